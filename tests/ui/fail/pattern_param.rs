use uapi::handler;

#[handler]
async fn point((x, y): (i64, i64)) -> String {
    format!("{x},{y}")
}

fn main() {}
