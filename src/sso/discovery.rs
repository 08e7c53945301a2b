//! Each provider's discovery document and signing keys, fetched with an HTTP
//! client that follows no redirects and gives up after a timeout, and kept in
//! this process for a while (every replica keeps its own copy; the documents
//! are public). A token whose signature the cached keys do not verify (a key
//! id they do not know, or a key replaced under the same id) makes one fresh
//! fetch of the keys, so a provider's key rotation does not break sign-in;
//! at most one such fetch per issuer per [`KEY_REFRESH_INTERVAL`], so bad
//! tokens cannot make Tandem hammer a provider. Only addresses [`reach`]
//! allows are called.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use openidconnect::{IssuerUrl, JsonWebKeySet, ProviderMetadataWithLogout, reqwest};
use time::OffsetDateTime;

use super::reach;

/// The shortest time between two fetches of one issuer's keys outside the
/// discovery cache's own expiry.
pub const KEY_REFRESH_INTERVAL: time::Duration = time::Duration::minutes(1);

/// Why a provider's documents could not be had. Never shown as is: the
/// person is told the provider cannot be reached; the log gets the cause.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unreachable(String);

#[derive(Clone)]
struct Cached {
    metadata: ProviderMetadataWithLogout,
    fetched_at: OffsetDateTime,
    /// When the keys were last fetched again by [`Discovery::refresh_keys`].
    keys_refreshed_at: Option<OffsetDateTime>,
}

pub struct Discovery {
    http: reqwest::Client,
    ttl: time::Duration,
    allow_local: bool,
    cache: Mutex<HashMap<String, Cached>>,
}

impl Discovery {
    /// `allow_local`: `TANDEM_SSO_ALLOW_INSECURE_ISSUERS` (see [`reach`]).
    pub fn new(timeout: Duration, ttl: time::Duration, allow_local: bool) -> Self {
        let mut http = reqwest::Client::builder()
            // A redirect could take the client secret or a code somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout);
        if !allow_local {
            http = http.dns_resolver(std::sync::Arc::new(reach::PublicOnly));
        }
        let http = http.build().expect("an HTTP client with rustls");
        Self { http, ttl, allow_local, cache: Mutex::new(HashMap::new()) }
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The provider's metadata (with its keys), from the cache while fresh.
    pub async fn metadata(&self, issuer: &str, now: OffsetDateTime) -> Result<ProviderMetadataWithLogout, Unreachable> {
        if let Some(hit) = self.cached(issuer)
            && now - hit.fetched_at < self.ttl
        {
            return Ok(hit.metadata);
        }
        let url = IssuerUrl::new(issuer.to_owned()).map_err(|e| Unreachable(format!("issuer URL: {e}")))?;
        // Providers saved before the rule, or a setting turned off since.
        self.reachable("issuer", url.url())?;
        // Checks that the document names the issuer we asked for.
        let metadata = ProviderMetadataWithLogout::discover_async(url, &self.http)
            .await
            .map_err(|e| Unreachable(format!("discovery: {}", error_chain(&e))))?;
        // The endpoints Tandem itself calls; the others are the browser's.
        self.reachable("jwks_uri", metadata.jwks_uri().url())?;
        if let Some(token) = metadata.token_endpoint() {
            self.reachable("token_endpoint", token.url())?;
        }
        if let Some(userinfo) = metadata.userinfo_endpoint() {
            self.reachable("userinfo_endpoint", userinfo.url())?;
        }
        self.store(issuer, Cached { metadata: metadata.clone(), fetched_at: now, keys_refreshed_at: None });
        Ok(metadata)
    }

    fn reachable(&self, what: &str, url: &url::Url) -> Result<(), Unreachable> {
        reach::check(url, self.allow_local).map_err(|e| Unreachable(format!("{what} {url}: {e}")))
    }

    /// Fetches the keys again (the cached ones did not verify a token), or
    /// `None` when this issuer's keys were fetched again less than
    /// [`KEY_REFRESH_INTERVAL`] ago.
    pub async fn refresh_keys(&self, issuer: &str, now: OffsetDateTime) -> Result<Option<ProviderMetadataWithLogout>, Unreachable> {
        let metadata = self.metadata(issuer, now).await?;
        {
            // Claimed before the fetch, so that concurrent sign-ins make one.
            let mut cache = self.cache.lock().expect("discovery cache");
            let Some(cached) = cache.get_mut(issuer) else { return Ok(None) };
            if cached.keys_refreshed_at.is_some_and(|at| now - at < KEY_REFRESH_INTERVAL) {
                return Ok(None);
            }
            cached.keys_refreshed_at = Some(now);
        }
        let keys = JsonWebKeySet::fetch_async(metadata.jwks_uri(), &self.http)
            .await
            .map_err(|e| Unreachable(format!("keys: {}", error_chain(&e))))?;
        let metadata = metadata.set_jwks(keys);
        self.store(issuer, Cached { metadata: metadata.clone(), fetched_at: now, keys_refreshed_at: Some(now) });
        Ok(Some(metadata))
    }

    /// Forgets what is cached about `issuer` (its settings were changed).
    pub fn forget(&self, issuer: &str) {
        self.cache.lock().expect("discovery cache").remove(issuer);
    }

    fn cached(&self, issuer: &str) -> Option<Cached> {
        self.cache.lock().expect("discovery cache").get(issuer).cloned()
    }

    fn store(&self, issuer: &str, cached: Cached) {
        self.cache.lock().expect("discovery cache").insert(issuer.to_owned(), cached);
    }
}

pub(super) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
