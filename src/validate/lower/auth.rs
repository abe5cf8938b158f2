//! Auth schemes: which environment variables hold the secrets, and where they go on the wire.

use super::Lowerer;
use crate::model;
use crate::spec::{self};

impl Lowerer<'_> {
    pub(super) fn lower_auth(&mut self, auth: &spec::Auth) -> Option<model::Auth> {
        Some(match auth {
            spec::Auth::None => model::Auth::None,
            spec::Auth::Bearer(source) => model::Auth::Bearer {
                env: self.env_name(&source.env)?,
            },
            spec::Auth::Header(header) => {
                let name = self.wire_name(&header.name, "header");
                let prefix = match &header.prefix {
                    Some(prefix) => self.wire_value(prefix),
                    None => Some(String::new()),
                };
                let env = self.env_name(&header.env);
                model::Auth::Header {
                    name: name?,
                    prefix: prefix?,
                    env: env?,
                }
            }
            spec::Auth::Query(query) => {
                let param = self.wire_name(&query.param, "query parameter");
                let env = self.env_name(&query.env);
                model::Auth::Query {
                    param: param?,
                    env: env?,
                }
            }
            spec::Auth::Basic(basic) => {
                let username_env = self.env_name(&basic.username_env);
                let password_env = basic.password_env.as_ref().map(|env| self.env_name(env));
                model::Auth::Basic {
                    username_env: username_env?,
                    password_env: password_env.map_or(Some(None), |env| env.map(Some))?,
                }
            }
        })
    }
}
