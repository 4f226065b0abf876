"""The CrossGuard policy pack (`policies/`); its rules live in `policies.chittyos_guard`."""
