//! The docs pages: Swagger UI, Redoc and Stoplight Elements, each one HTML
//! page that loads its UI's script (and stylesheet) from a CDN, or from URLs
//! you serve yourself (nothing is downloaded when uapi builds).

/// Which UI a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ui {
    Swagger,
    Redoc,
    Elements,
}

/// A docs page for the document served at some path, e.g. `/openapi.json`:
/// served by [`App::serve_docs`](crate::App::serve_docs), or by the
/// shorthands [`App::serve_swaggerui`](crate::App::serve_swaggerui),
/// [`serve_redoc`](crate::App::serve_redoc) and
/// [`serve_elements`](crate::App::serve_elements).
///
/// # Examples
///
/// Swagger UI with its files served by the app itself, from the npm
/// package `swagger-ui-dist` (no CDN):
///
/// ```
/// use uapi::openapi::DocsPage;
/// let page = DocsPage::swaggerui("/openapi.json").assets_at("/assets/swagger-ui-dist");
/// assert!(page.html().contains(r#"src="/assets/swagger-ui-dist/swagger-ui-bundle.js""#));
/// ```
#[derive(Debug, Clone)]
pub struct DocsPage {
    ui: Ui,
    spec_url: String,
    title: String,
    assets: Option<String>,
}

impl DocsPage {
    fn new(ui: Ui, spec_url: &str, title: &str) -> Self {
        DocsPage { ui, spec_url: spec_url.to_owned(), title: title.to_owned(), assets: None }
    }

    /// Swagger UI (npm `swagger-ui-dist` 5: `swagger-ui-bundle.js`,
    /// `swagger-ui.css`) for the document at `spec_url`.
    pub fn swaggerui(spec_url: &str) -> Self {
        Self::new(Ui::Swagger, spec_url, "Swagger UI")
    }

    /// Redoc (npm `redoc` 2: `redoc.standalone.js` of its `bundles/`).
    pub fn redoc(spec_url: &str) -> Self {
        Self::new(Ui::Redoc, spec_url, "Redoc")
    }

    /// Stoplight Elements (npm `@stoplight/elements` 9:
    /// `web-components.min.js`, `styles.min.css`).
    pub fn elements(spec_url: &str) -> Self {
        Self::new(Ui::Elements, spec_url, "Elements")
    }

    /// The page's title.
    pub fn title(mut self, title: &str) -> Self {
        title.clone_into(&mut self.title);
        self
    }

    /// Loads the UI's files from `base` (a URL or a path the app serves, the
    /// folder that holds the files named above) instead of the jsDelivr CDN.
    pub fn assets_at(mut self, base: &str) -> Self {
        self.assets = Some(base.trim_end_matches('/').to_owned());
        self
    }

    fn base(&self) -> &str {
        match (&self.assets, self.ui) {
            (Some(base), _) => base,
            (None, Ui::Swagger) => "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5",
            (None, Ui::Redoc) => "https://cdn.jsdelivr.net/npm/redoc@2/bundles",
            (None, Ui::Elements) => "https://cdn.jsdelivr.net/npm/@stoplight/elements@9",
        }
    }

    /// The page.
    pub fn html(&self) -> String {
        let base = attr(self.base());
        let title = text(&self.title);
        let spec_attr = attr(&self.spec_url);
        // In a script, as a JSON string with `<` escaped: no `</script>` gets out.
        let spec_js = serde_json::to_string(&self.spec_url).unwrap_or_default().replace('<', "\\u003c");
        let head = format!("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title}</title>\n");
        match self.ui {
            Ui::Swagger => format!(
                "{head}<link rel=\"stylesheet\" href=\"{base}/swagger-ui.css\">\n</head>\n<body>\n<div id=\"swagger-ui\"></div>\n\
                 <script src=\"{base}/swagger-ui-bundle.js\"></script>\n\
                 <script>window.ui = SwaggerUIBundle({{ url: {spec_js}, dom_id: \"#swagger-ui\" }});</script>\n</body>\n</html>\n"
            ),
            Ui::Redoc => format!(
                "{head}</head>\n<body>\n<redoc spec-url=\"{spec_attr}\"></redoc>\n\
                 <script src=\"{base}/redoc.standalone.js\"></script>\n</body>\n</html>\n"
            ),
            Ui::Elements => format!(
                "{head}<link rel=\"stylesheet\" href=\"{base}/styles.min.css\">\n\
                 <script src=\"{base}/web-components.min.js\"></script>\n</head>\n<body>\n\
                 <elements-api apiDescriptionUrl=\"{spec_attr}\" router=\"hash\" layout=\"sidebar\"></elements-api>\n</body>\n</html>\n"
            ),
        }
    }
}

/// Escapes text for an HTML attribute value in double quotes.
fn attr(s: &str) -> String {
    text(s).replace('"', "&quot;")
}

/// Escapes text for HTML content.
fn text(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_load_from_the_cdn_unless_given_assets() {
        let page = DocsPage::swaggerui("/openapi.json").html();
        assert!(page.contains("https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"), "{page}");
        let page = DocsPage::redoc("/openapi.json").assets_at("/a/redoc/").html();
        assert!(page.contains("src=\"/a/redoc/redoc.standalone.js\""), "{page}");
        assert!(!page.contains("cdn"), "{page}");
        let page = DocsPage::elements("/openapi.json").html();
        assert!(page.contains("apiDescriptionUrl=\"/openapi.json\""), "{page}");
    }

    #[test]
    fn urls_and_titles_cannot_break_out() {
        let page = DocsPage::swaggerui("/x\"</script><script>alert(1)</script>").title("<b>").html();
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(page.contains("<title>&lt;b&gt;</title>"), "{page}");
        let page = DocsPage::redoc("\"><img>").html();
        assert!(!page.contains("<img>"), "{page}");
    }
}
