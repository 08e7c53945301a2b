//! Each provider's discovery document and signing keys, fetched with an HTTP
//! client that follows no redirects and gives up after a timeout, and kept in
//! this process for a while (every replica keeps its own copy; the documents
//! are public). A key id the cached set does not know makes one fresh fetch
//! of the keys, so a provider's key rotation does not break sign-in.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use openidconnect::{IssuerUrl, JsonWebKeySet, ProviderMetadataWithLogout, reqwest};
use time::OffsetDateTime;

/// Why a provider's documents could not be had. Never shown as is: the
/// person is told the provider cannot be reached; the log gets the cause.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unreachable(String);

#[derive(Clone)]
struct Cached {
    metadata: ProviderMetadataWithLogout,
    fetched_at: OffsetDateTime,
}

pub struct Discovery {
    http: reqwest::Client,
    ttl: time::Duration,
    cache: Mutex<HashMap<String, Cached>>,
}

impl Discovery {
    pub fn new(timeout: Duration, ttl: time::Duration) -> Self {
        let http = reqwest::Client::builder()
            // A redirect could take the client secret or a code somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .build()
            .expect("an HTTP client with rustls");
        Self { http, ttl, cache: Mutex::new(HashMap::new()) }
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
        // Checks that the document names the issuer we asked for.
        let metadata = ProviderMetadataWithLogout::discover_async(url, &self.http)
            .await
            .map_err(|e| Unreachable(format!("discovery: {}", error_chain(&e))))?;
        self.store(issuer, &metadata, now);
        Ok(metadata)
    }

    /// Fetches the keys again (a token named a key id we do not know).
    pub async fn refresh_keys(&self, issuer: &str, now: OffsetDateTime) -> Result<ProviderMetadataWithLogout, Unreachable> {
        let mut metadata = self.metadata(issuer, now).await?;
        let keys = JsonWebKeySet::fetch_async(metadata.jwks_uri(), &self.http)
            .await
            .map_err(|e| Unreachable(format!("keys: {}", error_chain(&e))))?;
        metadata = metadata.set_jwks(keys);
        self.store(issuer, &metadata, now);
        Ok(metadata)
    }

    /// Forgets what is cached about `issuer` (its settings were changed).
    pub fn forget(&self, issuer: &str) {
        self.cache.lock().expect("discovery cache").remove(issuer);
    }

    fn cached(&self, issuer: &str) -> Option<Cached> {
        self.cache.lock().expect("discovery cache").get(issuer).cloned()
    }

    fn store(&self, issuer: &str, metadata: &ProviderMetadataWithLogout, now: OffsetDateTime) {
        self.cache
            .lock()
            .expect("discovery cache")
            .insert(issuer.to_owned(), Cached { metadata: metadata.clone(), fetched_at: now });
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
