//! What a new database starts with: what a fresh ftrack site has, as far as ftrack's clients
//! can tell. The built-in locations with their real ids (the Python client finds them by id
//! and name), the object types with the ids the schemas give as defaults, a default priority
//! (the id Task's schema defaults to), statuses, task types, asset types (`upload`, `scene`,
//! `geo`, `cam`, `img`, ...) and a project schema.

use rusqlite::{Connection, TransactionBehavior};
use serde_json::{json, Value};

use super::Store;

/// The id of `ftrack.server`, the location whose files this server keeps.
pub(crate) const SERVER_LOCATION: &str = "3a372bde-05bc-11e4-8908-20c9d081909b";

/// The built-in locations: name, id.
const LOCATIONS: &[(&str, &str)] = &[
    ("ftrack.origin", "ce9b348f-8809-11e3-821c-20c9d081909b"),
    ("ftrack.unmanaged", "cb268ecc-8809-11e3-a7e2-20c9d081909b"),
    ("ftrack.review", "cd41be70-8809-11e3-b98a-20c9d081909b"),
    ("ftrack.server", SERVER_LOCATION),
    ("ftrack.connect", "07b82a97-8cf9-11e3-9383-20c9d081909b"),
];

/// The object types of the context types: name, id, whether it is a leaf (a task).
const OBJECT_TYPES: &[(&str, &str, bool)] = &[
    ("Task", "11c137c0-ee7e-4f9c-91c5-8c77cec22b2c", true),
    ("Shot", "bad911de-3bd6-47b9-8b46-3476e237cb36", false),
    ("Sequence", "e5139355-61da-4c8f-9db4-3abc870166bc", false),
    ("Folder", "3c133785-51cb-11e3-980a-20c9d0831e59", false),
    ("Episode", "22139355-61da-4c8f-9db4-3abc870166bc", false),
    ("Asset Build", "4be63b64-5010-42fb-bf1f-428af9d638f0", false),
    ("Milestone", "01decdd1-51cb-11e3-9d5b-20c9d0831e59", true),
];

/// The priority Task's schema defaults to.
const DEFAULT_PRIORITY: &str = "9661b320-3a0c-11e2-81c1-0800200c9a66";

/// Fills a database that has no locations yet; does nothing to one that has.
pub(super) fn seed(connection: &mut Connection) -> rusqlite::Result<()> {
    let seeded: i64 = connection.query_row(
        "SELECT count(*) FROM entity WHERE type = 'Location'",
        [],
        |r| r.get(0),
    )?;
    if seeded > 0 {
        return Ok(());
    }
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let store = Store::new(&transaction, "");
        let create = |ty: &str, data: Value| {
            let Value::Object(data) = data else {
                unreachable!("seed data are objects")
            };
            store
                .create(ty, &data)
                .unwrap_or_else(|err| panic!("the built-in {ty} {data:?} is invalid: {err}"));
        };
        for (name, id) in LOCATIONS {
            create("Location", json!({"id": id, "name": name, "label": name}));
        }
        for (name, id, leaf) in OBJECT_TYPES {
            create(
                "ObjectType",
                json!({"id": id, "name": name, "is_leaf": leaf, "is_taskable": !leaf,
                       "is_time_reportable": leaf, "is_statusable": true, "is_typeable": leaf,
                       "is_schedulable": true, "sort": 0,
                       "icon": name.to_lowercase().replace(' ', "_")}),
            );
        }
        for (sort, (name, id, value)) in [
            ("Urgent", None, 4.0),
            ("High", None, 3.0),
            ("Medium", Some(DEFAULT_PRIORITY), 2.0),
            ("Low", None, 1.0),
            ("None", None, 0.0),
        ]
        .into_iter()
        .enumerate()
        {
            let id = id.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string);
            create(
                "Priority",
                json!({"id": id, "name": name, "value": value, "sort": sort, "color": "#95A5A6"}),
            );
        }
        let mut statuses = Vec::new();
        for (sort, (name, state_color)) in [
            ("Not started", "#BFBFBF"),
            ("Ready to start", "#5DADE2"),
            ("In progress", "#3498DB"),
            ("Pending Review", "#E67E22"),
            ("Approved", "#2ECC71"),
            ("Completed", "#27AE60"),
            ("On Hold", "#E74C3C"),
            ("Omitted", "#7F8C8D"),
        ]
        .into_iter()
        .enumerate()
        {
            let id = uuid::Uuid::new_v4().to_string();
            create(
                "Status",
                json!({"id": id, "name": name, "color": state_color, "sort": sort,
                       "is_active": true}),
            );
            statuses.push(id);
        }
        for (sort, name) in [
            "Generic",
            "Modeling",
            "Rigging",
            "Animation",
            "Lookdev",
            "Lighting",
            "Rendering",
            "Compositing",
            "Tracking",
            "FX",
            "Editing",
            "Previz",
            "Layout",
            "Texture",
        ]
        .into_iter()
        .enumerate()
        {
            create(
                "Type",
                json!({"id": uuid::Uuid::new_v4().to_string(), "name": name, "sort": sort,
                       "is_billable": true, "color": "#95A5A6"}),
            );
        }
        for (name, short) in [
            ("Upload", "upload"),
            ("Scene", "scene"),
            ("Geometry", "geo"),
            ("Camera", "cam"),
            ("Image", "img"),
            ("Render", "render"),
            ("Compositing", "comp"),
            ("Animation", "anim"),
            ("Audio", "audio"),
            ("Document", "doc"),
            ("Texture", "txt"),
            ("Rig", "rig"),
            ("Look development", "look"),
        ] {
            create(
                "AssetType",
                json!({"id": uuid::Uuid::new_v4().to_string(), "name": name, "short": short}),
            );
        }
        create(
            "ProjectSchema",
            json!({"id": uuid::Uuid::new_v4().to_string(), "name": "VFX Scheme"}),
        );
    }
    transaction.commit()
}
