//! The login manager is injectable with nothing but `configure_async_login`
//! set up: uapi's users "store the login_manager somewhere"; here a handler
//! just asks for it.

use uapi::login::{configure_async_login, AsyncLoginManager, AsyncLoginSession, LoginOptions};
use uapi::sessions::{configure_sessions, MemoryStore, SessionError, SessionOptions};
use uapi::status::Created;
use uapi::testing::TestClient;
use uapi::{handler, App};

#[handler]
async fn login(login_session: AsyncLoginSession<i64>, user_id: i64) -> Result<Created<()>, SessionError> {
    Ok(Created::new(()).with_headers(login_session.login_and_return(user_id).await?))
}

#[handler]
async fn me(current_user_id: i64) -> String {
    current_user_id.to_string()
}

/// `DELETE /users/{user_id}/sessions`: any logged-in caller may end a user's sessions.
#[handler]
async fn end_sessions(
    current_user_id: i64,
    user_id: i64,
    login_manager: AsyncLoginManager<i64>,
) -> Result<String, SessionError> {
    let _ = current_user_id;
    Ok(login_manager.logout(&user_id).await?.to_string())
}

/// A handler taking `login_manager: AsyncLoginManager<i64>` builds and works
/// with no `provide_value`: it ends both sessions of user 5, and only those.
#[tokio::test]
async fn a_handler_gets_the_login_manager_from_configure_async_login_alone() {
    let mut app = App::new();
    let store = configure_sessions(&mut app, MemoryStore::new(), SessionOptions::default());
    configure_async_login::<i64>(&mut app, &store, LoginOptions::default());
    app.post("/login", login).get("/me", me).delete("/users/{user_id}/sessions", end_sessions);
    let service = app.build().expect("builds with nothing but configure_async_login");
    let (phone, laptop, admin) = (
        TestClient::from_service(service.clone()),
        TestClient::from_service(service.clone()),
        TestClient::from_service(service),
    );
    for (c, id) in [(&phone, 5), (&laptop, 5), (&admin, 1)] {
        assert_eq!(c.post(&format!("/login?user_id={id}")).send().await.status, 201);
    }
    let r = admin.delete("/users/5/sessions").send().await;
    assert_eq!((r.status.as_u16(), r.text().as_str()), (200, "2"));
    assert_eq!(phone.get("/me").send().await.status, 403);
    assert_eq!(laptop.get("/me").send().await.status, 403);
    assert_eq!(admin.get("/me").send().await.text(), "1");
}
