"""What a schema-driven client reads in /api/v1/schema: bodies, errors, bounds, links, tags."""

import pytest

ERROR_REF = "#/components/schemas/Error"
# The errors each operation can answer, besides 401 (bad API key) and 503 (a dependency down).
EXPECTED_ERRORS = {
    ("post", "/api/v1/convert"): {400, 409, 413, 415, 429},
    ("post", "/api/v1/filter"): {400, 409, 413, 415, 429},
    ("post", "/api/v1/uploads"): {400, 409, 415, 429},
    ("get", "/api/v1/status/{job_id}"): {404},
    ("get", "/api/v1/download/{job_id}"): {404, 409, 410},
    ("delete", "/api/v1/jobs/{job_id}"): {404},
    ("get", "/api/v1/jobs"): {400},
    ("get", "/api/v1/formats"): set(),
    ("get", "/api/v1/operations"): set(),
}


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        resp = APIClient().get("/api/v1/schema?format=json")
    assert resp.status_code == 200
    return resp.json()


def operations(schema):
    for path, item in schema["paths"].items():
        for method, op in item.items():
            yield method, path, op


def body_schema(schema, op):
    ref = op["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_file_is_a_binary_or_an_uploadid_on_convert_and_filter(schema):
    for path in ("/api/v1/convert", "/api/v1/filter", "/api/convert"):
        op = schema["paths"][path]["post"]
        assert op["requestBody"]["required"] is True
        body = body_schema(schema, op)
        file_field = body["properties"]["file"]
        assert (file_field.get("items") or file_field)["format"] == "binary"
        assert body["properties"]["uploadId"]["type"] == "string" and body["properties"]["uploadId"]["maxLength"] == 1024
    convert = body_schema(schema, schema["paths"]["/api/v1/convert"]["post"])
    assert set(convert["required"]) == {"targetFormat"}
    filter_ = body_schema(schema, schema["paths"]["/api/v1/filter"]["post"])
    assert set(filter_["required"]) == {"operations"}
    assert filter_["properties"]["operations"]["minItems"] == 1
    # Each operation is described with its own parameters, as GET /api/v1/operations lists them.
    choices = {c["title"]: c for c in filter_["properties"]["operations"]["items"]["anyOf"]}
    resize = choices["image resize"]
    assert resize["properties"]["op"]["enum"] == ["resize"] and resize["additionalProperties"] is False
    assert resize["properties"]["width"]["type"] == "integer" and resize["properties"]["fit"]["enum"]
    encoding = schema["paths"]["/api/v1/convert"]["post"]["requestBody"]["content"]["multipart/form-data"]["encoding"]
    assert encoding["options"]["contentType"] == "application/json"


def test_every_operation_lists_its_errors_in_the_one_shape(schema):
    for (method, path), expected in EXPECTED_ERRORS.items():
        responses = schema["paths"][path][method]["responses"]
        errors = {int(code) for code in responses if int(code) >= 400}
        assert errors == expected | {401, 503}, (method, path)
        for code in errors:
            assert responses[str(code)]["content"]["application/json"]["schema"]["$ref"] == ERROR_REF
            assert responses[str(code)]["description"]
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert set(schema["components"]["schemas"]["ErrorDetail"]["required"]) == {"code", "message"}
    assert "Retry-After" in schema["paths"]["/api/v1/convert"]["post"]["responses"]["429"]["headers"]


def test_success_answers_have_their_own_schemas(schema):
    for method, path, op in operations(schema):
        for code, response in op["responses"].items():
            if code.startswith("2"):
                content = response["content"]
                media = next(iter(content.values()))
                assert media["schema"] != {"type": "object", "additionalProperties": {}}, (method, path, code)
    status = schema["components"]["schemas"]["JobStatus"]
    assert {"jobId", "status", "progress", "error", "result"} <= set(status["required"])


def test_paging_and_wait_have_bounds(schema):
    params = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/jobs"]["get"]["parameters"]}
    assert params["page"]["minimum"] == 1 and params["pageSize"]["minimum"] == 1
    wait = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/convert"]["post"]["parameters"]}["wait"]
    assert (wait["minimum"], wait["maximum"]) == (0, 60)


def test_convert_and_filter_link_to_status_download_and_delete(schema):
    ids = {op["operationId"]: (method, path) for method, path, op in operations(schema)}
    for path in ("/api/v1/convert", "/api/v1/filter"):
        for code in ("200", "202"):
            links = schema["paths"][path]["post"]["responses"][code]["links"]
            assert set(links) == {"status", "download", "delete"}
            for link in links.values():
                assert link["operationId"] in ids
                assert link["parameters"] == {"job_id": "$response.body#/jobId"}
    assert ids[schema["paths"]["/api/v1/convert"]["post"]["responses"]["202"]["links"]["delete"]["operationId"]] == (
        "delete", "/api/v1/jobs/{job_id}"
    )


def test_aliases_share_their_twins_tag_and_sit_beside_them(schema):
    paths = list(schema["paths"])
    for alias in ("/api/convert", "/api/status/{job_id}", "/api/download/{job_id}"):
        twin = "/api/v1/" + alias[len("/api/"):]
        assert paths.index(alias) == paths.index(twin) + 1
        (method,) = schema["paths"][alias]
        alias_op, twin_op = schema["paths"][alias][method], schema["paths"][twin][method]
        assert alias_op["tags"] == twin_op["tags"]
        assert alias_op["operationId"] == twin_op["operationId"] + "_legacy"
        assert twin in alias_op["description"]
    tags = {tag for _, _, op in operations(schema) for tag in op["tags"]}
    assert tags == {"Convert and filter", "Jobs", "Catalog"}


def test_uploads_answers_a_presigned_post(schema):
    op = schema["paths"]["/api/v1/uploads"]["post"]
    body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert schema["components"]["schemas"][body]["required"] == ["filename"]
    answer = op["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][answer]["required"]) == {"uploadId", "url", "fields", "expiresAt"}
    assert "uploads_unavailable" in op["responses"]["409"]["description"]
