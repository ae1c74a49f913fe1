//! A parsed `Set-Cookie` header, for assertions on cookie attributes.

/// A parsed `Set-Cookie`: name, value, attributes (names lowercased).
#[derive(Debug)]
pub struct SetCookie {
    pub name: String,
    pub value: String,
    pub attrs: Vec<(String, Option<String>)>,
}

impl SetCookie {
    pub fn parse(header: &str) -> SetCookie {
        let mut parts = header.split(';').map(str::trim);
        let (name, value) = parts.next().and_then(|p| p.split_once('=')).expect("name=value");
        let attrs = parts
            .map(|a| match a.split_once('=') {
                Some((k, v)) => (k.to_ascii_lowercase(), Some(v.to_owned())),
                None => (a.to_ascii_lowercase(), None),
            })
            .collect();
        SetCookie { name: name.to_owned(), value: value.to_owned(), attrs }
    }

    /// `Some(None)` for a flag (`HttpOnly`), `Some(Some(v))` for `Path=/`.
    pub fn attr(&self, name: &str) -> Option<Option<&str>> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_deref())
    }

    pub fn max_age(&self) -> Option<i64> {
        self.attr("max-age").flatten().map(|v| v.parse().expect("numeric Max-Age"))
    }
}
