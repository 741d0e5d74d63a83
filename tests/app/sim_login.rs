//! The simulator's login and session endpoints, driven by tickvault's own Kite client.

use secrecy::{ExposeSecret, SecretString};
use tickvault::kite::client::KiteError;

use crate::helpers::{
    default_credentials, get_json, http, kite_client, login, post_json, spawn_sim, unix_now,
};

#[actix_rt::test]
async fn login_with_a_real_totp_gives_a_session_that_works() {
    let sim = spawn_sim();
    let client = kite_client(&sim);
    let session = client
        .login(&default_credentials(), unix_now())
        .await
        .unwrap();
    assert_eq!(session.user_id, "SIM001");
    assert_eq!(session.access_token.expose_secret().len(), 32);
    assert_eq!(
        session.login_time.len(),
        19,
        "yyyy-mm-dd hh:mm:ss: {}",
        session.login_time
    );
    let profile = client.profile(&session).await.unwrap();
    assert_eq!(profile["user_id"], "SIM001");
    assert_eq!(profile["broker"], "ZERODHA");
    sim.stop().await;
}

#[actix_rt::test]
async fn a_wrong_password_or_totp_gets_kites_error_envelope() {
    let sim = spawn_sim();
    let client = kite_client(&sim);
    let mut creds = default_credentials();
    creds.password = SecretString::from("wrong");
    match client.login(&creds, unix_now()).await {
        Err(KiteError::Refused {
            status: 403,
            error_type,
            refusal: tickvault::kite::client::Refusal::Password,
            ..
        }) => assert_eq!(error_type, "UserException"),
        other => panic!("expected a 403 UserException, got {other:?}"),
    }
    let mut creds = default_credentials();
    // A code from ten minutes ago is outside the ±1 step window.
    let err = client.login(&creds, unix_now() - 600).await.unwrap_err();
    assert!(err.is_totp_rejected(), "{err}");
    assert!(
        matches!(&err, KiteError::Refused { status: 403, error_type, .. } if error_type == "TwoFAException"),
        "{err}"
    );
    // Codes one step either side are accepted (clock skew).
    creds.totp_secret = SecretString::from("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP");
    client
        .login(&creds, unix_now() - 30)
        .await
        .expect("one step behind is fine");
    sim.stop().await;
}

#[actix_rt::test]
async fn a_checksum_mismatch_is_rejected_and_request_tokens_are_single_use() {
    let sim = spawn_sim();
    let client = kite_client(&sim);
    let creds = default_credentials();
    let rt = client.request_token(&creds, unix_now()).await.unwrap();
    let mut wrong = creds.clone();
    wrong.api_secret = SecretString::from("not the secret");
    match client.create_session(&wrong, &rt).await {
        Err(KiteError::Refused {
            status: 403,
            error_type,
            message,
            ..
        }) => {
            assert_eq!(error_type, "TokenException");
            assert!(message.contains("checksum"), "{message}");
        }
        other => panic!("expected a checksum error, got {other:?}"),
    }
    // A wrong checksum does not consume the token; the right one does, once.
    client.create_session(&creds, &rt).await.expect("first use");
    match client.create_session(&creds, &rt).await {
        Err(KiteError::Refused {
            status: 403,
            message,
            ..
        }) => assert!(message.contains("invalid or has expired"), "{message}"),
        other => panic!("expected the reused token to fail, got {other:?}"),
    }
    sim.stop().await;
}

#[actix_rt::test]
async fn the_login_redirects_carry_sess_id_cookies_and_the_request_token() {
    let sim = spawn_sim();
    let base = sim.http_url();
    let r = http()
        .get(format!("{base}/connect/login?v=3&api_key=sim_api_key"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let location = r
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(location.contains("sess_id="), "{location}");
    assert!(
        r.headers()
            .get_all("set-cookie")
            .any(|c| c.to_str().unwrap().starts_with("kf_session="))
    );
    let r = http()
        .get(format!("{base}/connect/login?v=3&api_key=nobody"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Finishing without having logged in sends the browser back to the login page.
    let sess_id = location
        .split("sess_id=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let r = http()
        .get(format!(
            "{base}/connect/finish?v=3&api_key=sim_api_key&sess_id={sess_id}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert!(
        r.headers()
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("/connect/login")
    );
    sim.stop().await;
}

#[actix_rt::test]
async fn an_injected_login_failure_fails_the_totp_step_then_clears() {
    let sim = spawn_sim();
    post_json(&format!("{}/sim/login/fail?times=1", sim.http_url())).await;
    let client = kite_client(&sim);
    let err = client
        .login(&default_credentials(), unix_now())
        .await
        .unwrap_err();
    assert!(err.is_totp_rejected(), "{err}");
    client
        .login(&default_credentials(), unix_now())
        .await
        .expect("the next login works");
    sim.stop().await;
}

#[actix_rt::test]
async fn expired_or_deleted_tokens_get_403_token_exception() {
    let sim = spawn_sim();
    let client = kite_client(&sim);
    let session = login(&sim).await;
    let expired = post_json(&format!("{}/sim/tokens/expire", sim.http_url())).await;
    assert_eq!(expired["expired"], 1);
    let err = client.profile(&session).await.unwrap_err();
    assert!(err.is_token_rejected(), "{err}");
    if let KiteError::Api { message, .. } = &err {
        assert_eq!(message, "Incorrect `api_key` or `access_token`.");
    }
    // A fresh login works again; DELETE /session/token kills it.
    let session = login(&sim).await;
    client.profile(&session).await.unwrap();
    let url = format!(
        "{}/session/token?api_key=sim_api_key&access_token={}",
        sim.http_url(),
        session.access_token.expose_secret()
    );
    let r = http().delete(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        client
            .profile(&session)
            .await
            .unwrap_err()
            .is_token_rejected()
    );
    let stats = get_json(&format!("{}/sim/stats", sim.http_url())).await;
    assert_eq!(stats["date"], "2026-11-20");
    sim.stop().await;
}
