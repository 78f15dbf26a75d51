"""Scripts the sandbox runs as programs (stdlib only); the host reads them, never imports them."""
