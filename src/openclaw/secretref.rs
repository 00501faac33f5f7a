//! SecretRefs (`{source: env|file|exec, provider, id}`). `exec` refs are never executed.
//! OWNER: auth helper.
