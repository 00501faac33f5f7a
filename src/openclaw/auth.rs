//! Auth profile stores (SQLite shared/per-agent, legacy JSON), OpenClaw's per-profile
//! state, and credential resolution in OpenClaw's order. OWNER: auth helper.
