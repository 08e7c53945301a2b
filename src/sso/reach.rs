//! Which addresses Tandem calls on a practice's behalf. A practice admin
//! names the issuer, and the provider's discovery document names the other
//! endpoints; neither may make Tandem call this machine (its database, its
//! health port, another service's admin port) or the private network it sits
//! in, nor talk to a provider over plain http. Only an operator can allow
//! that, with `TANDEM_SSO_ALLOW_INSECURE_ISSUERS` (tests, development).
//!
//! URLs are checked when they are entered or discovered ([`check`]); names
//! are checked again where they are resolved ([`PublicOnly`]), so a name that
//! points at a private address, now or after a change of its DNS record, is
//! not reached either.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use openidconnect::reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

const LOCAL: &str = "the provider must be on the internet, not on this machine or a private network";

/// `https://` at a public address; with `allow_local`, also local and private
/// addresses, and plain `http://` on loopback.
pub fn check(url: &Url, allow_local: bool) -> Result<(), String> {
    let loopback = match url.host() {
        Some(Host::Domain(name)) => is_localhost(name),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err("the URL names no host".into()),
    };
    let http_allowed = allow_local && loopback;
    if url.scheme() != "https" && !(url.scheme() == "http" && http_allowed) {
        return Err("the issuer URL must start with https://".into());
    }
    let public = match url.host() {
        Some(Host::Domain(name)) => !is_localhost(name),
        Some(Host::Ipv4(ip)) => is_public(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => is_public(IpAddr::V6(ip)),
        None => false,
    };
    if !public && !allow_local {
        return Err(LOCAL.into());
    }
    Ok(())
}

fn is_localhost(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// An address on the public internet: not loopback, private, link-local
/// (where cloud metadata services answer), shared (carrier-grade NAT),
/// unspecified, broadcast or multicast.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80) // link-local
}

/// A resolver that hands the HTTP client public addresses only.
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{host}: {LOCAL}").into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_of_local_addresses_are_not_resolved() {
        let refused = PublicOnly.resolve("localhost".parse().unwrap()).await;
        assert!(refused.is_err());
    }

    #[test]
    fn public_and_local_addresses() {
        for public in ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "100.128.0.1"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        for local in ["127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1", "fd12::1", "fe80::1", "::ffff:10.0.0.1"] {
            assert!(!is_public(local.parse().unwrap()), "{local}");
        }
    }
}
