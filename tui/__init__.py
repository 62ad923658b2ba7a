"""The operator's terminal UI over the qa-platform-ops playbooks."""
