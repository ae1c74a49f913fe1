use std::rc::Rc;

use uapi::handler;

#[handler]
async fn count(n: Rc<u8>) -> String {
    n.to_string()
}

fn main() {}
