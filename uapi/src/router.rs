//! Path templates -> routes, on `matchit`, plus the method table of each path.

use http::header::HeaderValue;
use http::Method;

/// The routes of one path template, by method.
pub(crate) struct PathEntry {
    methods: Vec<(Method, usize)>,
    /// The `Allow` header for a 405.
    allow: HeaderValue,
}

impl PathEntry {
    /// The route for `method`; HEAD falls back to GET.
    pub(crate) fn route_for(&self, method: &Method) -> Option<usize> {
        let find = |m: &Method| self.methods.iter().find(|(k, _)| k == m).map(|(_, r)| *r);
        find(method).or_else(|| if method == Method::HEAD { find(&Method::GET) } else { None })
    }

    pub(crate) fn allow(&self) -> &HeaderValue {
        &self.allow
    }
}

/// Matches paths to their entries.
pub(crate) struct Router {
    inner: matchit::Router<usize>,
    entries: Vec<PathEntry>,
}

/// Byte ranges of path parameters; inline for the usual few, so no allocation.
pub(crate) type PathRanges = smallvec::SmallVec<[(usize, usize); 4]>;

/// A match: the entry and the byte ranges of the path parameters in `path`.
pub(crate) struct Found<'r> {
    pub(crate) entry: &'r PathEntry,
    pub(crate) params: PathRanges,
}

impl Router {
    /// Builds the router from `(template, methods -> route index)`.
    pub(crate) fn new(paths: Vec<(String, Vec<(Method, usize)>)>) -> Result<Router, Vec<String>> {
        let mut inner = matchit::Router::new();
        let mut entries = Vec::with_capacity(paths.len());
        let mut problems = Vec::new();
        for (template, methods) in paths {
            if let Err(e) = inner.insert(template.clone(), entries.len()) {
                problems.push(format!("route path `{template}` cannot be added: {e}"));
                continue;
            }
            let mut allowed: Vec<&str> = methods.iter().map(|(m, _)| m.as_str()).collect();
            if allowed.contains(&"GET") && !allowed.contains(&"HEAD") {
                allowed.push("HEAD");
            }
            allowed.sort_unstable();
            let allow = HeaderValue::from_str(&allowed.join(", ")).unwrap_or_else(|_| HeaderValue::from_static(""));
            entries.push(PathEntry { methods, allow });
        }
        if problems.is_empty() {
            Ok(Router { inner, entries })
        } else {
            Err(problems)
        }
    }

    /// Finds the entry for `path`.
    pub(crate) fn find<'r>(&'r self, path: &str) -> Option<Found<'r>> {
        let m = self.inner.at(path).ok()?;
        let entry = self.entries.get(*m.value)?;
        let base = path.as_ptr() as usize;
        // matchit hands out slices of `path`; keep their positions so the
        // request can own its path and still read the values without copies.
        let mut params = PathRanges::new();
        for (_, v) in m.params.iter() {
            let start = v.as_ptr() as usize - base;
            params.push((start, start + v.len()));
        }
        Some(Found { entry, params })
    }
}

/// The parameter names of a path template, in order (`{id}`, `{*rest}`).
pub(crate) fn template_params(template: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        if let Some(stripped) = after.strip_prefix('{') {
            // `{{` is an escaped brace.
            rest = stripped;
            continue;
        }
        let Some(close) = after.find('}') else { break };
        names.push(after[..close].trim_start_matches('*').to_owned());
        rest = &after[close + 1..];
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_params_are_listed_in_order() {
        assert_eq!(template_params("/users/{user_id}/posts/{post_id}"), ["user_id", "post_id"]);
        assert_eq!(template_params("/files/{*rest}"), ["rest"]);
        assert!(template_params("/plain").is_empty());
    }

    #[test]
    fn params_are_ranges_into_the_path_in_template_order() {
        let r = Router::new(vec![("/a/{x}/b/{y}".into(), vec![(Method::GET, 0)])]).unwrap();
        let path = "/a/one/b/two";
        let found = r.find(path).unwrap();
        let values: Vec<&str> = found.params.iter().map(|&(s, e)| &path[s..e]).collect();
        assert_eq!(values, ["one", "two"]);
    }

    #[test]
    fn head_falls_back_to_get_and_allow_lists_head() {
        let r = Router::new(vec![("/".into(), vec![(Method::GET, 3), (Method::POST, 4)])]).unwrap();
        let found = r.find("/").unwrap();
        assert_eq!(found.entry.route_for(&Method::HEAD), Some(3));
        assert_eq!(found.entry.route_for(&Method::PUT), None);
        assert_eq!(found.entry.allow(), "GET, HEAD, POST");
    }
}
