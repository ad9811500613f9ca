"""What the real ftrack_api reads back of what `ftrack-connect publish` published.

    FTRACK_SERVER=... FTRACK_API_USER=... FTRACK_API_KEY=... \
        python publish_readback.py ASSET_ID [LOCATION_NAME PREFIX]
    python publish_readback.py setup PROJECT      # project/sq/sh010/comp; prints the task id
    python publish_readback.py assets PROJECT     # the project's assets, as JSON
    python publish_readback.py status NAME        # the id of the status NAME

Prints one JSON object: the asset, and each of its versions with its components (kind,
name, size, file type, padding, members) and, for each location a component is in, the
resource identifier the server holds, the one ftrack_api's own structure computes, and
whether the file is where the location says (its size). LOCATION_NAME and PREFIX configure a
disk location as a studio's plugin would (a DiskAccessor and ftrack's StandardStructure).
"""

import json
import os
import sys

import ftrack_api
import ftrack_api.accessor.disk
import ftrack_api.structure.standard
import requests


def setup(session, name):
    schema = session.query("ProjectSchema").first()
    project = session.create("Project", {"name": name, "full_name": name.title(),
                                         "project_schema": schema})
    sequence = session.create("Sequence", {"name": "sq", "parent": project})
    shot = session.create("Shot", {"name": "sh010", "parent": sequence})
    task = session.create("Task", {"name": "comp", "parent": shot})
    session.commit()
    print(task["id"])


def assets(session, name):
    shot = session.query(
        'Shot where name is "sh010" and project.name is "{0}"'.format(name)).one()
    found = session.query(
        "select id, name, versions.version from Asset where parent.id is {0}".format(
            shot["id"])).all()
    print(json.dumps(sorted(
        [a["name"], a["id"], sorted(v["version"] for v in a["versions"])] for a in found)))


def main():
    session = ftrack_api.Session(auto_connect_event_hub=False)
    if sys.argv[1] == "status":
        return print(session.query('Status where name is "{0}"'.format(sys.argv[2])).one()["id"])
    if sys.argv[1] == "setup":
        return setup(session, sys.argv[2])
    if sys.argv[1] == "assets":
        return assets(session, sys.argv[2])
    asset_id = sys.argv[1]
    disk = None
    if len(sys.argv) > 3:
        disk = session.query('Location where name is "{0}"'.format(sys.argv[2])).one()
        disk.accessor = ftrack_api.accessor.disk.DiskAccessor(prefix=sys.argv[3])
        disk.structure = ftrack_api.structure.standard.StandardStructure()
    server = session.query('Location where name is "ftrack.server"').one()
    unmanaged = session.query('Location where name is "ftrack.unmanaged"').one()
    asset = session.get("Asset", asset_id)
    if asset is None:
        print(json.dumps({"asset": None}))
        return
    report = {"asset": {"name": asset["name"], "type": asset["type"]["short"],
                        "parent": asset["parent"]["name"]}, "versions": []}
    versions = session.query(
        "select version, is_published, comment, task.name, thumbnail_id, status.name "
        "from AssetVersion "
        "where asset.id is {0} order by version".format(asset_id)).all()
    for version in versions:
        entry = {"version": version["version"], "is_published": version["is_published"],
                 "comment": version["comment"],
                 "task": version["task"]["name"] if version["task"] else None,
                 "thumbnail": version["thumbnail_id"] is not None,
                 "status": version["status"]["name"] if version["status"] else None,
                 "components": []}
        if version["thumbnail_id"] is not None:
            picture = session.get("Component", version["thumbnail_id"])
            entry["thumbnail_size"] = len(
                requests.get(server.get_url(picture), timeout=30).content)
        for component in version["components"]:
            item = {"kind": component.entity_type, "name": component["name"],
                    "size": component["size"], "file_type": component["file_type"],
                    "locations": []}
            if component.entity_type == "SequenceComponent":
                item["padding"] = component["padding"]
                item["members"] = sorted(
                    (m["name"], m["size"]) for m in component["members"])
            for place in component["component_locations"]:
                location = place["location"]
                where = {"name": location["name"],
                         "resource_identifier": place["resource_identifier"]}
                files = [component] if component.entity_type == "FileComponent" else list(
                    component["members"])
                if location == server:
                    sizes = []
                    for member in files:
                        url = server.get_url(member)
                        sizes.append(len(requests.get(url, timeout=30).content))
                    where["sizes"] = sizes
                elif location == unmanaged or (disk is not None and location == disk):
                    holder = unmanaged if location == unmanaged else disk
                    where["path"] = holder.get_filesystem_path(component)
                    if holder is disk:
                        where["computed"] = disk.structure.get_resource_identifier(component)
                    sizes = []
                    for member in files:
                        path = holder.get_filesystem_path(member)
                        sizes.append(os.path.getsize(path) if os.path.isfile(path) else None)
                    where["sizes"] = sizes
                item["locations"].append(where)
            entry["components"].append(item)
        entry["components"].sort(key=lambda c: c["name"])
        report["versions"].append(entry)
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main()
