"""Walks Vigil's TAXII 2.1 server with taxii2-client, as a consumer would, and prints
what it saw as JSON for the Rust test to check.

usage: taxii_client.py DISCOVERY_URL TOKEN PER_REQUEST
"""

import json
import sys

from taxii2client.v21 import Server, as_pages


def main():
    url, token, per_request = sys.argv[1], sys.argv[2], int(sys.argv[3])
    # taxii2-client sends user / password as HTTP Basic; Vigil takes the token as password.
    server = Server(url, user="vigil", password=token)
    out = {"title": server.title, "api_roots": [], "collections": {}}
    api_root = server.api_roots[0]
    out["api_roots"] = [root.url for root in server.api_roots]
    out["versions"] = api_root.versions
    for collection in api_root.collections:
        pages = []
        for envelope in as_pages(collection.get_objects, per_request=per_request):
            pages.append([[obj["id"], obj["type"]] for obj in envelope.get("objects", [])])
        manifest = []
        for envelope in as_pages(collection.get_manifest, per_request=per_request):
            manifest.extend(record["id"] for record in envelope.get("objects", []))
        one = None
        if pages and pages[0]:
            first_id = pages[0][0][0]
            one = [obj["id"] for obj in collection.get_object(first_id).get("objects", [])]
        out["collections"][collection.alias] = {
            "id": collection.id,
            "can_read": collection.can_read,
            "can_write": collection.can_write,
            "pages": pages,
            "manifest": manifest,
            "get_object": one,
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
