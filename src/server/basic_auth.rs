//! HTTP basic auth against the web config's bcrypt hashes, without letting a flood of wrong
//! passwords starve Prometheus.
//!
//! bcrypt is slow on purpose (tens of milliseconds a check at cost 10). Before, every
//! request with uncached credentials waited for one of two bcrypt slots while holding its
//! connection, so 300 concurrent wrong passwords held the connection slots and delayed a
//! legitimate scrape by 9.6 s. Now a request never queues behind more than a few checks:
//!
//! - credentials verified recently pass at once (a cache of SHA-256 digests of user,
//!   password and hash, at most [`CACHE_MAX`]): Prometheus, scraping every few seconds, pays
//!   bcrypt once, and is never throttled, whatever else comes from its address;
//! - a password already found wrong fails at once (a second cache of the same kind), without
//!   counting as another failure;
//! - each client address runs at most one check at a time and backs off after a failure
//!   ([`backoff`]: 250 ms doubling to 30 s); what arrives meanwhile gets `429` with
//!   `Retry-After`, without a bcrypt check;
//! - at most [`SLOTS`] checks run and [`QUEUE`] wait in all; beyond that `429` too.
//!
//! The check itself runs on a blocking thread, off the async workers. Unknown usernames are
//! checked against a dummy hash, so response times do not tell which users exist.

use http::HeaderValue;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Entries of each credential cache (verified, rejected).
pub const CACHE_MAX: usize = 256;
/// bcrypt checks running at once.
pub const SLOTS: usize = 2;
/// bcrypt checks waiting for a slot, beyond which requests are refused at once.
pub const QUEUE: usize = 6;
/// Client addresses remembered for back-off.
const CLIENTS_MAX: usize = 4096;

/// The answer for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    /// `401`: no or wrong credentials.
    Denied,
    /// `429`: too many checks from this client or in all; try again after this long.
    Throttled(Duration),
}

/// How long a client waits after its `failures`-th failure in a row: 250 ms doubling, at
/// most 30 s.
pub fn backoff(failures: u32) -> Duration {
    let step = Duration::from_millis(250);
    step.saturating_mul(1u32 << failures.saturating_sub(1).min(7))
        .min(Duration::from_secs(30))
}

#[derive(Debug, Default)]
struct Client {
    failures: u32,
    blocked_until: Option<Instant>,
    in_flight: bool,
}

/// The caches, slots and per-client state; one per web config.
#[derive(Debug)]
pub struct Verifier {
    verified: Mutex<HashSet<[u8; 32]>>,
    rejected: Mutex<HashSet<[u8; 32]>>,
    clients: Mutex<HashMap<IpAddr, Client>>,
    slots: Semaphore,
    admitted: AtomicUsize,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            verified: Mutex::default(),
            rejected: Mutex::default(),
            clients: Mutex::default(),
            slots: Semaphore::new(SLOTS),
            admitted: AtomicUsize::new(0),
        }
    }
}

fn insert_bounded(set: &Mutex<HashSet<[u8; 32]>>, key: [u8; 32]) {
    let mut s = set.lock().expect("auth cache lock");
    if s.len() >= CACHE_MAX {
        s.clear();
    }
    s.insert(key);
}

/// Frees the client's and the global place when the check ends (or its request is dropped).
struct InFlight<'a> {
    v: &'a Verifier,
    peer: IpAddr,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.v.admitted.fetch_sub(1, Ordering::AcqRel);
        if let Some(c) = self
            .v
            .clients
            .lock()
            .expect("auth clients lock")
            .get_mut(&self.peer)
        {
            c.in_flight = false;
        }
    }
}

impl Verifier {
    /// Checks an `Authorization` header from `peer` against `users` (username → bcrypt
    /// hash). Always allowed when there are no users.
    pub async fn check(
        &self,
        users: &BTreeMap<String, String>,
        header: Option<&HeaderValue>,
        peer: IpAddr,
    ) -> Outcome {
        if users.is_empty() {
            return Outcome::Allowed;
        }
        let Some((user, pass)) = header.and_then(parse_basic) else {
            return Outcome::Denied;
        };
        let hash = users.get(&user).cloned();
        let key = cache_key(&user, &pass, hash.as_deref().unwrap_or(""));
        if hash.is_some()
            && self
                .verified
                .lock()
                .expect("auth cache lock")
                .contains(&key)
        {
            return Outcome::Allowed;
        }
        if self
            .rejected
            .lock()
            .expect("auth cache lock")
            .contains(&key)
        {
            // Known wrong and free to answer: no back-off needed (a scraper with a stale
            // password keeps failing without locking its address out for longer).
            return Outcome::Denied;
        }
        let _in_flight = match self.admit(peer, Instant::now()) {
            Ok(g) => g,
            Err(wait) => return Outcome::Throttled(wait),
        };
        let Ok(_slot) = self.slots.acquire().await else {
            return Outcome::Denied;
        };
        let known = hash.is_some();
        let ok = tokio::task::spawn_blocking(move || {
            let hash = hash.unwrap_or_else(|| dummy_hash().to_string());
            bcrypt::verify(pass, &hash).unwrap_or(false)
        })
        .await
        .unwrap_or(false)
            && known;
        if ok {
            insert_bounded(&self.verified, key);
            self.clients
                .lock()
                .expect("auth clients lock")
                .remove(&peer);
            Outcome::Allowed
        } else {
            insert_bounded(&self.rejected, key);
            self.failed(peer, Instant::now());
            Outcome::Denied
        }
    }

    /// A place for one bcrypt check from `peer`, or how long to wait.
    fn admit(&self, peer: IpAddr, now: Instant) -> Result<InFlight<'_>, Duration> {
        let mut clients = self.clients.lock().expect("auth clients lock");
        if clients.len() >= CLIENTS_MAX && !clients.contains_key(&peer) {
            clients.retain(|_, c| c.in_flight || c.blocked_until.is_some_and(|t| t > now));
            if clients.len() >= CLIENTS_MAX {
                return Err(Duration::from_secs(1));
            }
        }
        let c = clients.entry(peer).or_default();
        if let Some(t) = c.blocked_until.filter(|t| *t > now) {
            return Err(t - now);
        }
        if c.in_flight {
            return Err(Duration::from_secs(1));
        }
        if self.admitted.load(Ordering::Acquire) >= SLOTS + QUEUE {
            return Err(Duration::from_secs(1));
        }
        self.admitted.fetch_add(1, Ordering::AcqRel);
        c.in_flight = true;
        Ok(InFlight { v: self, peer })
    }

    fn failed(&self, peer: IpAddr, now: Instant) {
        let mut clients = self.clients.lock().expect("auth clients lock");
        if clients.len() >= CLIENTS_MAX && !clients.contains_key(&peer) {
            return;
        }
        let c = clients.entry(peer).or_default();
        c.failures = c.failures.saturating_add(1);
        c.blocked_until = Some(now + backoff(c.failures));
    }
}

/// SHA-256 of the length-prefixed (user, password, hash): what the caches hold, never the
/// password.
fn cache_key(user: &str, pass: &str, hash: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [user.as_bytes(), pass.as_bytes(), hash.as_bytes()] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.finalize().into()
}

fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| bcrypt::hash("clawprobe-dummy", 10).unwrap_or_default())
}

/// `Basic base64(user:pass)` → (user, pass).
pub fn parse_basic(v: &HeaderValue) -> Option<(String, String)> {
    let s = v.to_str().ok()?.trim();
    let (scheme, rest) = s.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64_decode(rest.trim())?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// Standard base64 with or without padding, at most 8 KiB of it; `None` on anything else.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    if s.len() > 8192 {
        return None;
    }
    LENIENT.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hv(u: &str, pw: &str) -> HeaderValue {
        use base64::Engine;
        let s = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{pw}"));
        HeaderValue::from_str(&format!("Basic {s}")).unwrap()
    }

    #[test]
    fn base64_and_basic_header() {
        assert_eq!(
            base64_decode("YWxhZGRpbjpvcGVuc2VzYW1l").unwrap(),
            b"aladdin:opensesame"
        );
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        assert!(base64_decode("Y").is_none());
        assert!(base64_decode("Y!==").is_none());
        let h = HeaderValue::from_static("Basic YWxhZGRpbjpvcGVuOnNlc2FtZQ==");
        assert_eq!(
            parse_basic(&h),
            Some(("aladdin".to_string(), "open:sesame".to_string()))
        );
        assert_eq!(parse_basic(&HeaderValue::from_static("Bearer abc")), None);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(250));
        assert_eq!(backoff(2), Duration::from_millis(500));
        assert_eq!(backoff(4), Duration::from_secs(2));
        assert_eq!(backoff(9), Duration::from_secs(30));
        assert_eq!(backoff(u32::MAX), Duration::from_secs(30));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_client_backs_off_and_others_and_cached_ones_do_not() {
        let v = Verifier::default();
        let users = BTreeMap::from([("prom".to_string(), bcrypt::hash("right", 4).unwrap())]);
        let attacker: IpAddr = "10.0.0.66".parse().unwrap();
        let prometheus: IpAddr = "10.0.0.9".parse().unwrap();
        assert_eq!(v.check(&users, None, attacker).await, Outcome::Denied);
        // Prometheus verifies once: cached from then on.
        assert_eq!(
            v.check(&users, Some(&hv("prom", "right")), prometheus)
                .await,
            Outcome::Allowed
        );
        assert_eq!(
            v.check(&users, Some(&hv("prom", "wrong-1")), attacker)
                .await,
            Outcome::Denied
        );
        // Backing off now: the next guess is refused without a bcrypt check.
        match v
            .check(&users, Some(&hv("prom", "wrong-2")), attacker)
            .await
        {
            Outcome::Throttled(d) => assert!(d <= Duration::from_millis(250), "{d:?}"),
            other => panic!("{other:?}"),
        }
        // The same wrong password again costs nothing and stays wrong.
        assert_eq!(
            v.check(&users, Some(&hv("prom", "wrong-1")), attacker)
                .await,
            Outcome::Denied
        );
        // Cached credentials pass, also from the backing-off address.
        assert_eq!(
            v.check(&users, Some(&hv("prom", "right")), attacker).await,
            Outcome::Allowed
        );
        assert_eq!(
            v.check(&users, Some(&hv("prom", "right")), prometheus)
                .await,
            Outcome::Allowed
        );
        // Another address with the right password is unaffected.
        let other: IpAddr = "10.0.0.10".parse().unwrap();
        assert_eq!(
            v.check(&users, Some(&hv("prom", "right")), other).await,
            Outcome::Allowed
        );
        // Unknown users fail (against the dummy hash).
        let fresh: IpAddr = "10.0.0.11".parse().unwrap();
        assert_eq!(
            v.check(&users, Some(&hv("nobody", "right")), fresh).await,
            Outcome::Denied
        );
    }

    #[test]
    fn admission_is_one_per_client_and_bounded_in_all() {
        let v = Verifier::default();
        let now = Instant::now();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let g = v.admit(a, now).unwrap();
        assert!(v.admit(a, now).is_err(), "one check at a time per client");
        let mut held = vec![g];
        for i in 2..(2 + SLOTS + QUEUE - 1) {
            held.push(
                v.admit(format!("10.0.0.{i}").parse().unwrap(), now)
                    .unwrap(),
            );
        }
        assert!(
            v.admit("10.0.1.1".parse().unwrap(), now).is_err(),
            "queue full"
        );
        held.pop();
        assert!(v.admit("10.0.1.1".parse().unwrap(), now).is_ok());
    }
}
