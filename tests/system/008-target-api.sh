#!/bin/bash
# The demo target's own HTTP API, which tools/demo shows and load scenarios
# will drive: items are listed, created, read and updated; unknown items
# are 404 and bodies that are not JSON 400.
. "$TOP_SRCDIR/tests/system/lib.sh"

start_target
A=http://127.0.0.1:$API_PORT
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

check "GET /healthz answers ok" test "$(jget "$A/healthz" .status)" = ok
check "the list starts empty" test "$(jget "$A/api/items" length)" = 0
check "POST /api/items creates an item: 201" \
        test "$(code -X POST -d '{"name":"widget"}' "$A/api/items")" = 201
check "the new item has id 1" test "$(jget "$A/api/items/1" .id)" = 1
check "GET /api/items/1 returns what was posted" test "$(jget "$A/api/items/1" .data.name)" = widget
check "PUT /api/items/1 replaces its data: 200" \
        test "$(code -X PUT -d '{"name":"gadget"}' "$A/api/items/1")" = 200
check "GET /api/items/1 returns the update" test "$(jget "$A/api/items/1" .data.name)" = gadget
check "POST /api/items creates a second item" \
        test "$(curl -s -X POST -d '[1,2]' "$A/api/items" | jq -r .id)" = 2
check "the list holds both, in id order" test "$(jget "$A/api/items" '[.[].id] | join(",")')" = 1,2
check "GET of an unknown item is 404" test "$(code "$A/api/items/99")" = 404
check "PUT of an unknown item is 404" test "$(code -X PUT -d '{}' "$A/api/items/99")" = 404
check "PUT does not create the unknown item" test "$(jget "$A/api/items" length)" = 2
check "a body that is not JSON is 400" test "$(code -X POST -d 'not json' "$A/api/items")" = 400
check "PUT with a body that is not JSON is 400" test "$(code -X PUT -d '{' "$A/api/items/1")" = 400
check "DELETE is refused: 405" test "$(code -X DELETE "$A/api/items/1")" = 405
done_testing
