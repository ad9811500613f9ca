//! Reading entities: a parsed query (`crate::query`) compiled to one SQL statement that does
//! the filtering, ordering and paging, then the projections filled in from the rows found.
//!
//! A condition on a path through relations becomes a set of ids: `parent.name is "x"` on
//! tasks is "the task's `parent_id` is among the ids of the entities named x", and a path
//! through a collection means "some member matches" (`versions any (version is 2)`, or simply
//! `versions.version is 2`: the asset's id is among the `asset_id`s of the versions numbered
//! 2). Written as `IN (SELECT ...)` rather than a correlated `EXISTS`, SQLite may start from
//! either side, whichever its indexes make cheaper. A reference's id needs no lookup at all:
//! `project.id is X` is a test of the task's own `project_id`. Every such lookup goes through
//! an index (ids, and each foreign key's JSON path), so a query's cost follows what it finds,
//! not the size of the table.

use rusqlite::types::Value as SqlValue;
use serde_json::{Map, Value};

use super::write::encode_stored;
use super::*;
use crate::query::{CompareOp, Direction, Filter, InSet, Path, Query, Value as QueryValue};

/// One page of results.
pub(crate) struct Page {
    /// The entities found, with their projections.
    pub(crate) data: Vec<Value>,
    /// Where the next page starts, when there is one.
    pub(crate) next: Option<u64>,
}

/// A statement being built: its parameters and a counter for table aliases.
#[derive(Default)]
struct Sql {
    params: Vec<SqlValue>,
    aliases: usize,
}

impl Sql {
    fn alias(&mut self) -> String {
        self.aliases += 1;
        format!("t{}", self.aliases)
    }

    fn bind(&mut self, value: SqlValue) -> &'static str {
        self.params.push(value);
        "?"
    }

    /// `alias.type IN (...)` for the concrete types of `type_name`.
    fn types(&mut self, alias: &str, type_name: &str) -> String {
        let marks: Vec<&str> = concrete_types(type_name)
            .into_iter()
            .map(|t| self.bind(SqlValue::Text(t)))
            .collect();
        format!("{alias}.type IN ({})", marks.join(", "))
    }
}

/// What a path's end is tested for.
enum Test<'q> {
    Compare(CompareOp, &'q QueryValue),
    In(bool, &'q InSet),
    /// `has` / `any`: the relation at the path's end exists and matches the filter.
    Relation(Option<&'q Filter>),
}

/// The SQL of a stored attribute of the row `alias`.
fn stored_sql(alias: &str, name: &str) -> String {
    if name == "id" {
        format!("{alias}.id")
    } else {
        format!("json_extract({alias}.data, '$.{}')", json_key(name))
    }
}

/// Attribute names come from the schema, but are checked anyway before going into SQL text.
fn json_key(name: &str) -> &str {
    if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        name
    } else {
        "invalid"
    }
}

/// How many attributes a path may go through (`parent.parent.name` is 3): the compiler and
/// the projections recurse along paths, and real ones are a handful long.
const MAX_PATH_SEGMENTS: usize = 32;

/// Refuses a query with a path longer than [`MAX_PATH_SEGMENTS`], anywhere in it.
fn check_path_lengths(query: &Query) -> Result<(), ApiError> {
    fn path(path: &Path) -> Result<(), ApiError> {
        if path.segments.len() > MAX_PATH_SEGMENTS {
            return Err(ApiError::bad_request(format!(
                "the path {}... goes through more than {MAX_PATH_SEGMENTS} attributes",
                path.segments[..3].join(".")
            )));
        }
        Ok(())
    }
    fn filter(f: &Filter) -> Result<(), ApiError> {
        match f {
            Filter::And(all) | Filter::Or(all) => all.iter().try_for_each(filter),
            Filter::Not(inner) => filter(inner),
            Filter::Compare { path: p, .. } => path(p),
            Filter::In { path: p, set, .. } => {
                path(p)?;
                match set {
                    InSet::Subquery(sub) => check_path_lengths(sub),
                    InSet::Values(_) => Ok(()),
                }
            }
            Filter::Has {
                path: p,
                filter: inner,
            }
            | Filter::Any {
                path: p,
                filter: inner,
            } => {
                path(p)?;
                inner.as_deref().map_or(Ok(()), filter)
            }
        }
    }
    query.projections.iter().try_for_each(path)?;
    query.order_by.iter().try_for_each(|(p, _)| path(p))?;
    query.filter.as_ref().map_or(Ok(()), filter)
}

impl Store<'_> {
    /// Runs `query`.
    pub(crate) fn query(&self, query: &Query) -> Result<Page, ApiError> {
        check_path_lengths(query)?;
        let type_name = query.entity_type.as_str();
        let et = entity_type(type_name)?;
        let projections: Vec<Path> = if query.projections.is_empty() {
            et.default_projections()
                .iter()
                .map(|p| Path::dotted(p))
                .collect()
        } else {
            query.projections.clone()
        };
        for path in &projections {
            check_path(type_name, &path.segments)?;
        }
        let mut sql = Sql::default();
        let types = sql.types("e", type_name);
        let filter = match &query.filter {
            Some(filter) => self.filter(&mut sql, type_name, "e", filter)?,
            None => "1".into(),
        };
        let mut order = Vec::new();
        for (path, direction) in &query.order_by {
            let expression = order_sql(&mut sql, type_name, "e", &path.segments)?;
            let direction = match direction {
                Direction::Ascending => "ASC",
                Direction::Descending => "DESC",
            };
            order.push(format!("{expression} {direction}"));
        }
        order.push("e.rowid".into());
        // SQLite's LIMIT and OFFSET are signed 64-bit; nobody pages that far.
        const MOST: u64 = i64::MAX as u64 / 2;
        let offset = query.offset.unwrap_or(0).min(MOST);
        let limit = query.limit.map(|limit| limit.min(MOST));
        let mut text = format!(
            "SELECT e.type, e.data FROM entity e WHERE {types} AND ({filter}) ORDER BY {}",
            order.join(", ")
        );
        if let Some(limit) = limit {
            // One more than asked: whether it comes says if there is a next page.
            text.push_str(&format!(
                " LIMIT {} OFFSET {offset}",
                limit.saturating_add(1)
            ));
        } else if offset > 0 {
            text.push_str(&format!(" LIMIT -1 OFFSET {offset}"));
        }
        let mut rows = self.rows(&text, &sql.params)?;
        let next = match limit {
            Some(limit) if rows.len() as u64 > limit => {
                rows.truncate(limit as usize);
                Some(offset + limit)
            }
            _ => None,
        };
        let tree = Tree::of(&projections);
        let data = rows
            .iter()
            .map(|row| self.fill(row, &tree).map(Value::Object))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page { data, next })
    }

    fn rows(&self, text: &str, params: &[SqlValue]) -> Result<Vec<Row>, ApiError> {
        let mut statement = self.connection.prepare_cached(text).map_err(sql_error)?;
        let rows = statement
            .query_map(rusqlite::params_from_iter(params), row)
            .map_err(sql_error)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql_error)?;
        rows.into_iter().collect()
    }

    /// The SQL of `filter` on the row `alias`, of type `type_name`.
    fn filter(
        &self,
        sql: &mut Sql,
        type_name: &str,
        alias: &str,
        filter: &Filter,
    ) -> Result<String, ApiError> {
        Ok(match filter {
            Filter::And(all) => self.join(sql, type_name, alias, all, " AND ")?,
            Filter::Or(any) => self.join(sql, type_name, alias, any, " OR ")?,
            Filter::Not(inner) => format!("NOT ({})", self.filter(sql, type_name, alias, inner)?),
            Filter::Compare { path, op, value } => self.test(
                sql,
                type_name,
                alias,
                &path.segments,
                Test::Compare(*op, value),
            )?,
            Filter::In { path, negated, set } => self.test(
                sql,
                type_name,
                alias,
                &path.segments,
                Test::In(*negated, set),
            )?,
            Filter::Has { path, filter } | Filter::Any { path, filter } => self.test(
                sql,
                type_name,
                alias,
                &path.segments,
                Test::Relation(filter.as_deref()),
            )?,
        })
    }

    fn join(
        &self,
        sql: &mut Sql,
        type_name: &str,
        alias: &str,
        all: &[Filter],
        with: &str,
    ) -> Result<String, ApiError> {
        let parts = all
            .iter()
            .map(|f| {
                self.filter(sql, type_name, alias, f)
                    .map(|s| format!("({s})"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(parts.join(with))
    }

    /// The SQL testing the end of `path` (from the row `alias` of `type_name`) with `test`.
    fn test(
        &self,
        sql: &mut Sql,
        type_name: &str,
        alias: &str,
        path: &[String],
        test: Test<'_>,
    ) -> Result<String, ApiError> {
        let (first, rest) = path
            .split_first()
            .ok_or_else(|| ApiError::bad_request("an empty attribute path"))?;
        let et = entity_type(type_name)?;
        match attribute(et, first)? {
            Attribute::Stored(scalar) => {
                if !rest.is_empty() {
                    return Err(not_a_relation(type_name, first));
                }
                self.leaf(
                    sql,
                    &stored_sql(alias, first),
                    scalar,
                    type_name,
                    first,
                    test,
                )
            }
            Attribute::Computed if first == "context_type" && rest.is_empty() => {
                let expression =
                    format!("(CASE WHEN {alias}.type = 'Project' THEN 'show' ELSE 'task' END)");
                self.leaf(sql, &expression, Scalar::Text, type_name, first, test)
            }
            Attribute::Computed => Err(ApiError::bad_request(format!(
                "{type_name}.{first} is worked out by the server and cannot be filtered on"
            ))),
            Attribute::Reference { target, key } => {
                let foreign = stored_sql(alias, &key);
                match (rest, &test) {
                    // `parent is none`, `parent.id is X`: the foreign key itself.
                    ([], Test::Compare(..) | Test::In(..)) => {
                        self.leaf(sql, &foreign, Scalar::Text, type_name, first, test)
                    }
                    ([id], Test::Compare(..) | Test::In(..)) if id == "id" => {
                        self.leaf(sql, &foreign, Scalar::Text, type_name, first, test)
                    }
                    _ => {
                        let related = sql.alias();
                        let types = sql.types(&related, &target);
                        let inner = self.relation_end(sql, &target, &related, rest, test)?;
                        // A set of ids rather than a correlated EXISTS: SQLite can then
                        // start from the related entities and find the rows through the
                        // foreign key's index.
                        // (Never NULL, so that `not` holds for a row without the reference.)
                        Ok(format!(
                            "({foreign} IS NOT NULL AND {foreign} IN (SELECT {related}.id FROM \
                             entity {related} WHERE {types} AND ({inner})))"
                        ))
                    }
                }
            }
            Attribute::Collection { target, key } => {
                if rest.is_empty() && !matches!(test, Test::Relation(_)) {
                    return Err(ApiError::bad_request(format!(
                        "{type_name}.{first} is a collection: test its members with `any (...)` \
                         or a path into them ({first}.name ...)"
                    )));
                }
                let member = sql.alias();
                let types = sql.types(&member, &target);
                let inner = self.relation_end(sql, &target, &member, rest, test)?;
                let back = stored_sql(&member, &key);
                Ok(format!(
                    "({alias}.id IS NOT NULL AND {alias}.id IN (SELECT {back} FROM entity \
                     {member} WHERE {back} IS NOT NULL AND {types} AND ({inner})))"
                ))
            }
        }
    }

    /// Inside a relation: the rest of the path, or (at its end) the `has`/`any` filter.
    fn relation_end(
        &self,
        sql: &mut Sql,
        target: &str,
        alias: &str,
        rest: &[String],
        test: Test<'_>,
    ) -> Result<String, ApiError> {
        match (rest, test) {
            ([], Test::Relation(None)) => Ok("1".into()),
            ([], Test::Relation(Some(filter))) => self.filter(sql, target, alias, filter),
            ([], _) => Ok("1".into()),
            (rest, test) => self.test(sql, target, alias, rest, test),
        }
    }

    /// The SQL comparing `expression` (an attribute of kind `scalar`) as `test` says.
    fn leaf(
        &self,
        sql: &mut Sql,
        expression: &str,
        scalar: Scalar,
        type_name: &str,
        name: &str,
        test: Test<'_>,
    ) -> Result<String, ApiError> {
        match test {
            Test::Compare(op, QueryValue::Null { .. }) => match op {
                CompareOp::Eq => Ok(format!("{expression} IS NULL")),
                CompareOp::Ne => Ok(format!("{expression} IS NOT NULL")),
                _ => Err(ApiError::bad_request(format!(
                    "{type_name}.{name}: none can only be tested with is / is_not"
                ))),
            },
            Test::Compare(op, value) => {
                let bound = sql.bind(sql_value(scalar, value));
                let operator = match op {
                    CompareOp::Eq => "=",
                    CompareOp::Ne => "!=",
                    CompareOp::Gt => ">",
                    CompareOp::Lt => "<",
                    CompareOp::Ge => ">=",
                    CompareOp::Le => "<=",
                    CompareOp::Like => "LIKE",
                    CompareOp::NotLike => "NOT LIKE",
                };
                Ok(format!("{expression} {operator} {bound}"))
            }
            Test::In(negated, InSet::Values(values)) => {
                if values.is_empty() {
                    return Ok(if negated { "1" } else { "0" }.into());
                }
                let marks: Vec<&str> = values
                    .iter()
                    .map(|v| sql.bind(sql_value(scalar, v)))
                    .collect();
                let not = if negated { "NOT " } else { "" };
                Ok(format!("{expression} {not}IN ({})", marks.join(", ")))
            }
            Test::In(negated, InSet::Subquery(subquery)) => {
                let inner = self.subquery(sql, subquery)?;
                let not = if negated { "NOT " } else { "" };
                Ok(format!("{expression} {not}IN ({inner})"))
            }
            Test::Relation(_) => Err(ApiError::bad_request(format!(
                "{type_name}.{name} is not a relation: `has` and `any` test relations"
            ))),
        }
    }

    /// `(select attribute from T where ...)` as SQL giving that attribute's values.
    fn subquery(&self, sql: &mut Sql, query: &Query) -> Result<String, ApiError> {
        let type_name = query.entity_type.as_str();
        let et = entity_type(type_name)?;
        let column = match query.projections.as_slice() {
            [path] if path.segments.len() == 1 => path.segments[0].clone(),
            [] => "id".to_string(),
            _ => {
                return Err(ApiError::bad_request(
                    "a subquery selects one attribute of its own type (select id from ...)",
                ))
            }
        };
        let alias = sql.alias();
        let value = match attribute(et, &column)? {
            Attribute::Stored(_) => stored_sql(&alias, &column),
            Attribute::Reference { key, .. } => stored_sql(&alias, &key),
            _ => return Err(not_a_relation(type_name, &column)),
        };
        let types = sql.types(&alias, type_name);
        let filter = match &query.filter {
            Some(filter) => self.filter(sql, type_name, &alias, filter)?,
            None => "1".into(),
        };
        Ok(format!(
            "SELECT {value} FROM entity {alias} WHERE {types} AND ({filter})"
        ))
    }

    /// The entity `row` as the client reads it: type, primary key, system projections and
    /// the projections of `tree`.
    fn fill(&self, row: &Row, tree: &Tree) -> Result<Map<String, Value>, ApiError> {
        let et = entity_type(&row.ty)?;
        let mut out = Map::new();
        out.insert("__entity_type__".into(), Value::String(row.ty.clone()));
        for name in et.primary_key() {
            out.insert(
                name.clone(),
                row.data.get(name.as_str()).cloned().unwrap_or(Value::Null),
            );
        }
        let empty = Tree::default();
        // System projections are named by storage name (`showid` for `project_id`).
        let system = et.system_projections().iter().filter_map(|name| {
            let property = et.property(name).or_else(|| et.property_for_alias(name))?;
            Some((property.name(), &empty))
        });
        let projected = tree.branches.iter().map(|(name, sub)| (name.as_str(), sub));
        for (name, sub) in system.chain(projected) {
            // A polymorphic query's projection that this concrete type lacks is left out.
            let Ok(kind) = attribute(et, name) else {
                continue;
            };
            let value = match kind {
                Attribute::Stored(scalar) => encode_stored(
                    scalar == Scalar::DateTime,
                    row.data.get(name).unwrap_or(&Value::Null),
                ),
                Attribute::Reference { target, key } => {
                    match row.data.get(key.as_str()).and_then(Value::as_str) {
                        None => Value::Null,
                        Some(id) => match self.by_id(&referable_types(&target), id)? {
                            Some(related) => Value::Object(self.fill(&related, sub)?),
                            None => Value::Null,
                        },
                    }
                }
                Attribute::Collection { target, key } => {
                    let members = match row.id() {
                        None => Vec::new(),
                        Some(id) => self.members(&target, &key, id)?,
                    };
                    Value::Array(
                        members
                            .iter()
                            .map(|member| self.fill(member, sub).map(Value::Object))
                            .collect::<Result<_, _>>()?,
                    )
                }
                Attribute::Computed => self.computed(row, name)?,
            };
            out.insert(name.to_string(), value);
        }
        Ok(out)
    }

    /// The entities of `target` whose `key` is `id`, in the order they were made.
    pub(super) fn members(&self, target: &str, key: &str, id: &str) -> Result<Vec<Row>, ApiError> {
        let mut sql = Sql::default();
        let types = sql.types("m", target);
        let text = format!(
            "SELECT m.type, m.data FROM entity m WHERE {} = ? AND {types} ORDER BY m.rowid",
            stored_sql("m", key)
        );
        let mut params = vec![SqlValue::Text(id.to_string())];
        params.append(&mut sql.params);
        self.rows(&text, &params)
    }
}

/// The projections as a tree: `parent.name`, `parent.id` and `name` are `name` and `parent`
/// with `id` and `name` below it.
#[derive(Default, Debug)]
struct Tree {
    branches: Vec<(String, Tree)>,
}

impl Tree {
    fn of(paths: &[Path]) -> Tree {
        let mut tree = Tree::default();
        for path in paths {
            let mut node = &mut tree;
            for segment in &path.segments {
                let at = match node.branches.iter().position(|(name, _)| name == segment) {
                    Some(at) => at,
                    None => {
                        node.branches.push((segment.clone(), Tree::default()));
                        node.branches.len() - 1
                    }
                };
                node = &mut node.branches[at].1;
            }
        }
        tree
    }
}

/// Checks that `path` names attributes that exist, from `type_name` on.
fn check_path(type_name: &str, path: &[String]) -> Result<(), ApiError> {
    let Some((first, rest)) = path.split_first() else {
        return Ok(());
    };
    let et = entity_type(type_name)?;
    match attribute(et, first)? {
        Attribute::Reference { target, .. } | Attribute::Collection { target, .. } => {
            check_path(&target, rest)
        }
        _ if rest.is_empty() => Ok(()),
        _ => Err(not_a_relation(type_name, first)),
    }
}

/// The SQL of a value to order by: an attribute of this row or of the entities its
/// references lead to.
fn order_sql(
    sql: &mut Sql,
    type_name: &str,
    alias: &str,
    path: &[String],
) -> Result<String, ApiError> {
    let (first, rest) = path
        .split_first()
        .ok_or_else(|| ApiError::bad_request("an empty order by path"))?;
    let et = entity_type(type_name)?;
    match (attribute(et, first)?, rest) {
        (Attribute::Stored(_), []) => Ok(stored_sql(alias, first)),
        (Attribute::Reference { key, .. }, []) => Ok(stored_sql(alias, &key)),
        (Attribute::Reference { target, key }, rest) => {
            let related = sql.alias();
            let types = sql.types(&related, &target);
            let inner = order_sql(sql, &target, &related, rest)?;
            Ok(format!(
                "(SELECT {inner} FROM entity {related} WHERE {related}.id = {} AND {types})",
                stored_sql(alias, &key)
            ))
        }
        _ => Err(ApiError::bad_request(format!(
            "cannot order by {}: order by attributes, or attributes of references",
            path.join(".")
        ))),
    }
}

fn not_a_relation(type_name: &str, name: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{type_name}.{name} is not a relation: nothing can follow it in a path"
    ))
}

/// A query value as SQL, for an attribute of kind `scalar`.
fn sql_value(scalar: Scalar, value: &QueryValue) -> SqlValue {
    let text = || SqlValue::Text(value.text().to_string());
    match (scalar, value) {
        (_, QueryValue::Null { .. }) => SqlValue::Null,
        (Scalar::Text | Scalar::DateTime, _) => text(),
        (Scalar::Boolean, QueryValue::Bool { value, .. }) => SqlValue::Integer(i64::from(*value)),
        (Scalar::Boolean, other) => match other.text().to_ascii_lowercase().as_str() {
            "true" | "1" => SqlValue::Integer(1),
            "false" | "0" => SqlValue::Integer(0),
            _ => text(),
        },
        (_, QueryValue::Integer { value, .. }) => SqlValue::Integer(*value),
        (_, QueryValue::Decimal { value, .. }) => SqlValue::Real(*value),
        (_, QueryValue::Bool { value, .. }) => SqlValue::Integer(i64::from(*value)),
        (Scalar::Integer, other) => other
            .text()
            .parse::<i64>()
            .map_or_else(|_| text(), SqlValue::Integer),
        (Scalar::Number, other) => other
            .text()
            .parse::<f64>()
            .map_or_else(|_| text(), SqlValue::Real),
        _ => text(),
    }
}
