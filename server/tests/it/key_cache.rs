//! The API-key cache's promises, on two instances sharing Redis: a revoked
//! key stops working everywhere at once (the cache is invalidated by
//! generation; its 30 s TTL is a backstop, not a blind spot), and a key that
//! did not exist when someone tried it works the moment it is created
//! (unknown keys are never remembered).

use paypulse_server::access::keys;
use paypulse_server::store::documents::Role;
use paypulse_server::store::tenants::RevokeKey;

use crate::common::{TestApp, assert_error};

const PATH: &str = "/api/analytics/metrics";

async fn status_with(app: &TestApp, key: &str) -> u16 {
    app.get_as("acme", key, PATH).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn a_revoked_key_stops_working_on_every_instance_at_once() {
    // The production TTL: only the generation can explain a prompt refusal.
    let first = TestApp::spawn().await;
    let second = TestApp::spawn_sharing(&first).await;
    let key = keys::generate_key("acme");
    let stored = keys::stored_key(&key, Role::Viewer, "revoked in a test");
    first.store.ensure_api_key("acme", &stored).await.unwrap();
    let admin = paypulse_server::access::Caller {
        tenant: std::sync::Arc::new(first.store.tenant("acme").await.unwrap().unwrap()),
        role: Role::Admin,
        key_id: Some("key_of_the_test".to_owned()),
    };
    // Both instances look the key up, and remember it.
    assert_eq!(status_with(&first, &key).await, 200);
    assert_eq!(status_with(&second, &key).await, 200);
    assert_eq!(status_with(&second, &key).await, 200);

    assert_eq!(
        first.state.access.revoke_key(&admin, &stored.id).await.unwrap(),
        RevokeKey::Revoked
    );
    for app in [&first, &second, &first, &second] {
        assert_error(
            app.get_as("acme", &key, PATH).send().await.unwrap(),
            401,
            "invalid_credentials",
            "not valid",
        )
        .await;
    }
    // The other keys of the tenant are untouched.
    assert_eq!(status_with(&second, "pk_demo_acme_viewer").await, 200);
    assert_eq!(
        first.state.access.revoke_key(&admin, &stored.id).await.unwrap(),
        RevokeKey::NotFound,
        "a key is revoked once"
    );
}

#[tokio::test]
async fn a_key_created_after_a_failed_lookup_works_at_once() {
    // The production TTL: a remembered failure would last 30 s.
    let first = TestApp::spawn().await;
    let second = TestApp::spawn_sharing(&first).await;
    let key = keys::generate_key("acme");
    assert_eq!(status_with(&first, &key).await, 401);
    assert_eq!(status_with(&second, &key).await, 401);

    let stored = keys::stored_key(&key, Role::Viewer, "created in a test");
    first.store.ensure_api_key("acme", &stored).await.unwrap();
    assert_eq!(
        status_with(&first, &key).await,
        200,
        "at once on the instance that refused it"
    );
    assert_eq!(status_with(&second, &key).await, 200, "and on the other one");
}
