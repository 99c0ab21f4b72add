//! SASL (RFC 4422) for logging in: which mechanism to use with what the
//! server offers, and the client's side of each exchange, as bytes before
//! base64. Pure, and shared by every protocol that authenticates (IMAP
//! today; POP3 and SMTP speak the same mechanisms).

use crate::model::AuthMethod;

/// What the account logs in with.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    Password(String),
    /// An OAuth2 access token.
    Token(String),
}

impl std::fmt::Debug for Credential {
    /// Never the secret itself, even in a debug print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Password(_) => f.write_str("Password(<redacted>)"),
            Credential::Token(_) => f.write_str("Token(<redacted>)"),
        }
    }
}

/// A SASL mechanism imapdir speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    Login,
    XOAuth2,
    /// RFC 7628.
    OAuthBearer,
}

/// How to log in: a SASL mechanism, or the protocol's own plain command
/// (IMAP's LOGIN) where the server offers no mechanism for a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginWay {
    Sasl(Mechanism),
    Command,
}

impl Mechanism {
    /// As servers name it, `AUTH=<name>` in IMAP's capabilities.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// The client's messages in order: the first is the initial response
    /// (sent with the command where the server allows, SASL-IR), each later
    /// one answers the server's next challenge. `host` and `port` are the
    /// server's, which OAUTHBEARER names.
    pub fn responses(self, user: &str, secret: &str, host: &str, port: u16) -> Vec<Vec<u8>> {
        match self {
            Mechanism::Plain => {
                let mut plain = Vec::with_capacity(user.len() + secret.len() + 2);
                plain.push(0);
                plain.extend_from_slice(user.as_bytes());
                plain.push(0);
                plain.extend_from_slice(secret.as_bytes());
                vec![plain]
            }
            // No initial response: the server asks for each in turn.
            Mechanism::Login => vec![user.as_bytes().to_vec(), secret.as_bytes().to_vec()],
            Mechanism::XOAuth2 => {
                vec![format!("user={user}\x01auth=Bearer {secret}\x01\x01").into_bytes()]
            }
            Mechanism::OAuthBearer => vec![format!(
                "n,a={},\x01host={host}\x01port={port}\x01auth=Bearer {secret}\x01\x01",
                gs2_escape(user)
            )
            .into_bytes()],
        }
    }

    /// Whether the first response goes with the command (when the server
    /// allows): LOGIN waits to be asked.
    pub fn has_initial_response(self) -> bool {
        self != Mechanism::Login
    }

    /// The answer to a challenge after the last response, which is the
    /// server's error report (XOAUTH2 and OAUTHBEARER send one before their
    /// NO): RFC 7628 asks for a lone %x01, XOAUTH2 for nothing.
    pub fn after_error(self) -> Vec<u8> {
        match self {
            Mechanism::OAuthBearer => vec![1],
            _ => Vec::new(),
        }
    }
}

/// RFC 5801's escaping of the authorization identity in the GS2 header.
fn gs2_escape(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

/// Picks how to log in. `offered` tells whether the server announces a
/// capability (`AUTH=PLAIN`, `LOGINDISABLED`); the error names what the
/// account asks for and what the server has.
pub fn choose(
    method: AuthMethod,
    credential: &Credential,
    offered: &dyn Fn(&str) -> bool,
) -> Result<LoginWay, String> {
    let has = |m: Mechanism| offered(&format!("AUTH={}", m.name()));
    let token = matches!(credential, Credential::Token(_));
    let wanted = match method {
        AuthMethod::Auto if token => {
            // The standard one where offered; Microsoft has only XOAUTH2.
            return [Mechanism::OAuthBearer, Mechanism::XOAuth2]
                .into_iter()
                .find(|m| has(*m))
                .map(LoginWay::Sasl)
                .ok_or_else(|| {
                    "the account logs in with an OAuth2 token, but the server offers neither \
                     OAUTHBEARER nor XOAUTH2"
                        .to_string()
                });
        }
        AuthMethod::Auto => {
            if has(Mechanism::Plain) {
                return Ok(LoginWay::Sasl(Mechanism::Plain));
            }
            if has(Mechanism::Login) {
                return Ok(LoginWay::Sasl(Mechanism::Login));
            }
            if offered("LOGINDISABLED") {
                return Err("the server refuses password logins on this connection \
                            (LOGINDISABLED) and offers no mechanism for one"
                    .to_string());
            }
            return Ok(LoginWay::Command);
        }
        AuthMethod::Plain => Mechanism::Plain,
        AuthMethod::Login => Mechanism::Login,
        AuthMethod::XOAuth2 => Mechanism::XOAuth2,
        AuthMethod::OAuthBearer => Mechanism::OAuthBearer,
    };
    let needs_token = matches!(wanted, Mechanism::XOAuth2 | Mechanism::OAuthBearer);
    if needs_token != token {
        return Err(if needs_token {
            format!(
                "auth = {:?} needs an OAuth2 token: set oauth2_token_command (or \
                 oauth2_client_id)",
                wanted.name().to_ascii_lowercase()
            )
        } else {
            format!(
                "auth = {:?} needs a password, but the account has an oauth2_token_command",
                wanted.name().to_ascii_lowercase()
            )
        });
    }
    if !has(wanted) {
        if wanted == Mechanism::Login && !offered("LOGINDISABLED") {
            // Every IMAP server takes the LOGIN command.
            return Ok(LoginWay::Command);
        }
        return Err(format!(
            "auth = {:?}, but the server does not offer AUTH={}",
            wanted.name().to_ascii_lowercase(),
            wanted.name()
        ));
    }
    Ok(LoginWay::Sasl(wanted))
}

/// Standard base64 with padding, as SASL exchanges are sent (IMAP
/// AUTHENTICATE, POP3 AUTH, SMTP AUTH).
pub fn base64(data: &[u8]) -> String {
    openssl::base64::encode_block(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offers(caps: &'static [&'static str]) -> impl Fn(&str) -> bool {
        move |c: &str| caps.iter().any(|o| o.eq_ignore_ascii_case(c))
    }

    fn password() -> Credential {
        Credential::Password("pw".into())
    }

    fn token() -> Credential {
        Credential::Token("tok".into())
    }

    #[test]
    fn auto_picks_the_best_the_server_offers() {
        let all = offers(&[
            "AUTH=PLAIN",
            "AUTH=LOGIN",
            "AUTH=XOAUTH2",
            "AUTH=OAUTHBEARER",
        ]);
        assert_eq!(
            choose(AuthMethod::Auto, &password(), &all),
            Ok(LoginWay::Sasl(Mechanism::Plain))
        );
        assert_eq!(
            choose(AuthMethod::Auto, &token(), &all),
            Ok(LoginWay::Sasl(Mechanism::OAuthBearer))
        );
        let microsoft = offers(&["AUTH=LOGIN", "AUTH=XOAUTH2"]);
        assert_eq!(
            choose(AuthMethod::Auto, &token(), &microsoft),
            Ok(LoginWay::Sasl(Mechanism::XOAuth2))
        );
        assert_eq!(
            choose(AuthMethod::Auto, &password(), &microsoft),
            Ok(LoginWay::Sasl(Mechanism::Login))
        );
        assert_eq!(
            choose(AuthMethod::Auto, &password(), &offers(&[])),
            Ok(LoginWay::Command)
        );
    }

    #[test]
    fn what_cannot_work_is_said_before_anything_is_sent() {
        let disabled = offers(&["LOGINDISABLED"]);
        assert!(choose(AuthMethod::Auto, &password(), &disabled)
            .unwrap_err()
            .contains("LOGINDISABLED"));
        assert!(choose(AuthMethod::Login, &password(), &disabled).is_err());
        assert!(choose(AuthMethod::Auto, &token(), &offers(&["AUTH=PLAIN"]))
            .unwrap_err()
            .contains("neither OAUTHBEARER nor XOAUTH2"));
        assert!(
            choose(AuthMethod::XOAuth2, &password(), &offers(&["AUTH=XOAUTH2"]))
                .unwrap_err()
                .contains("oauth2_token_command")
        );
        assert!(
            choose(AuthMethod::Plain, &password(), &offers(&["AUTH=LOGIN"]))
                .unwrap_err()
                .contains("AUTH=PLAIN")
        );
        assert_eq!(
            choose(AuthMethod::Login, &password(), &offers(&[])),
            Ok(LoginWay::Command)
        );
    }

    #[test]
    fn responses_follow_the_rfcs() {
        assert_eq!(
            Mechanism::Plain.responses("bob", "pw", "h", 1),
            vec![b"\0bob\0pw".to_vec()]
        );
        assert_eq!(
            Mechanism::XOAuth2.responses("bob@x", "tok", "h", 1),
            vec![b"user=bob@x\x01auth=Bearer tok\x01\x01".to_vec()]
        );
        assert_eq!(
            Mechanism::OAuthBearer.responses("a,b=c", "tok", "imap.example", 993),
            vec![
                b"n,a=a=2Cb=3Dc,\x01host=imap.example\x01port=993\x01auth=Bearer tok\x01\x01"
                    .to_vec()
            ]
        );
        assert_eq!(
            Mechanism::Login.responses("bob", "pw", "h", 1),
            vec![b"bob".to_vec(), b"pw".to_vec()]
        );
        assert_eq!(Mechanism::OAuthBearer.after_error(), vec![1]);
        assert!(Mechanism::XOAuth2.after_error().is_empty());
        assert_eq!(format!("{:?}", token()), "Token(<redacted>)");
    }
}
