use uapi::handler;

struct Api;

impl Api {
    #[handler]
    async fn get(&self, id: i64) -> String {
        id.to_string()
    }
}

fn main() {}
