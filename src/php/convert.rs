//! JSON values (how the core and the control socket carry structured data)
//! to PHP arrays. Objects become string-keyed arrays, lists become lists.

use ext_php_rs::boxed::ZBox;
use ext_php_rs::prelude::*;
use ext_php_rs::types::{ZendHashTable, Zval};
use serde_json::Value;

fn err(e: impl std::fmt::Display) -> PhpException {
    crate::HarpError::Internal(format!("converting to a PHP value: {e}")).into()
}

/// A JSON value as a PHP value.
pub fn to_zval(v: &Value) -> PhpResult<Zval> {
    let mut z = Zval::new();
    match v {
        Value::Null => z.set_null(),
        Value::Bool(b) => z.set_bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                z.set_long(i);
            } else {
                z.set_double(n.as_f64().unwrap_or(f64::NAN));
            }
        }
        Value::String(s) => z.set_string(s, false).map_err(err)?,
        Value::Array(_) | Value::Object(_) => z.set_hashtable(to_array(v)?),
    }
    Ok(z)
}

/// A JSON object or list as a PHP array; any other value as a one-element list.
pub fn to_array(v: &Value) -> PhpResult<ZBox<ZendHashTable>> {
    let mut ht = ZendHashTable::new();
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                ht.insert(k.as_str(), to_zval(x)?).map_err(err)?;
            }
        }
        Value::Array(a) => {
            for x in a {
                ht.push(to_zval(x)?).map_err(err)?;
            }
        }
        other => ht.push(to_zval(other)?).map_err(err)?,
    }
    Ok(ht)
}
