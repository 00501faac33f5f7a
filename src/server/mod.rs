//! The HTTP server: /metrics, /healthz, /readyz, /, POST /-/reload, GET /probe.
//! OWNER: exporter helper.
