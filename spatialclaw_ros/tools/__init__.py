"""The tools the model-written code calls inside the kernel (documented in docs/kernel-api.md)."""
