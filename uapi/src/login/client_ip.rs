//! Which client a login attempt counts against: the socket's peer, or, when
//! the peer is a proxy the app trusts, the address that proxy saw
//! (`X-Forwarded-For`).

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

/// The client's address: the peer's, unless the peer is one of `trusted`;
/// then `X-Forwarded-For` is read from its right end (each proxy appends the
/// address it saw), skipping the trusted proxies, and the first other address
/// is the client. A header that names only trusted proxies, or that does not
/// parse, leaves the last trusted hop: a client can put anything at the
/// header's left end, never at its right.
pub(super) fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer.to_canonical();
    if !is_trusted(&client) {
        return client;
    }
    let hops = headers.get_all("x-forwarded-for").iter().rev().flat_map(|v| {
        let parts: Vec<&str> = v.to_str().unwrap_or("").split(',').collect();
        parts.into_iter().rev()
    });
    for hop in hops {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else { break };
        client = ip.to_canonical();
        if !is_trusted(&client) {
            break;
        }
    }
    client
}

/// The part of an address that names one client: all of an IPv4 address; the
/// /64 network of an IPv6 one (what one subscriber is usually given, so a
/// guesser cannot get fresh counts by walking its own network).
pub(super) fn client_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match ipnet::Ipv6Net::new(v6, 64) {
            Ok(net) => net.trunc().to_string(),
            Err(_) => v6.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().expect("a header value"));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let h = headers(&["1.2.3.4"]);
        assert_eq!(client_ip(ip("10.0.0.9"), &h, &[]), ip("10.0.0.9"));
        let trusted = ["10.0.0.1/32".parse().expect("a network")];
        assert_eq!(client_ip(ip("10.0.0.9"), &h, &trusted), ip("10.0.0.9"));
    }

    #[test]
    fn a_trusted_proxy_forwards_the_rightmost_untrusted_hop() {
        let trusted = ["10.0.0.0/8".parse().expect("a network")];
        // The client forged "6.6.6.6"; the proxy appended the address it saw.
        let h = headers(&["6.6.6.6, 203.0.113.5"]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted), ip("203.0.113.5"));
        // Two trusted proxies in a row, over two header lines.
        let h = headers(&["6.6.6.6, 203.0.113.5", "10.1.1.1"]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted), ip("203.0.113.5"));
        // No header: the proxy itself.
        assert_eq!(client_ip(ip("10.0.0.1"), &HeaderMap::new(), &trusted), ip("10.0.0.1"));
        // Garbage stops the walk at the last good hop.
        let h = headers(&["203.0.113.5, nonsense, 10.2.2.2"]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted), ip("10.2.2.2"));
    }

    #[test]
    fn ipv4_mapped_peers_are_ipv4_and_ipv6_counts_per_64() {
        assert_eq!(client_ip(ip("::ffff:192.0.2.1"), &HeaderMap::new(), &[]), ip("192.0.2.1"));
        assert_eq!(client_key(ip("192.0.2.1")), "192.0.2.1");
        assert_eq!(client_key(ip("2001:db8:1:2:3:4:5:6")), "2001:db8:1:2::/64");
        assert_eq!(client_key(ip("2001:db8:1:2::ffff")), client_key(ip("2001:db8:1:2:aaaa::1")));
    }
}
