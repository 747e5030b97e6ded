"""Members and their privacy, with the real `jules` binary: keys at start-up, what reaches the database and the
logs, Fernet interoperability with Python's `cryptography`, and a key rotation with an interrupted
`jules reencrypt`."""
import base64
import hashlib
import json
import os
import pathlib
import signal
import subprocess
import sys

import pytest

from service_support import KEY_VARIABLES, ROOT, Service, temporary_database

sys.path.insert(0, str(ROOT / "clients"))
from jules_rpc import JulesRPCError  # noqa: E402

DATABASE_URL = os.environ.get("JULES_DATABASE_URL")
pytestmark = pytest.mark.skipif(not DATABASE_URL, reason="needs JULES_DATABASE_URL (scripts/test sets it)")


def keygen(jules_bin, *args):
    out = subprocess.run([jules_bin, "keygen", *args], capture_output=True, text=True, check=True, timeout=60)
    return out.stdout


def key_set(jules_bin):
    lines = keygen(jules_bin).splitlines()
    return dict(line.split("=", 1) for line in lines)


def clean_env(**overrides):
    env = {name: value for name, value in os.environ.items() if name not in KEY_VARIABLES}
    env.update(overrides)
    return env


@pytest.fixture
def fresh_database():
    with temporary_database(DATABASE_URL) as url:
        yield url


def start_service(jules_bin, folder, env, name="jules"):
    """A service logging at trace, every request included: the tests look for what the log must not hold."""
    return Service(jules_bin, folder, env, name=name, log_level="trace")


@pytest.mark.parametrize("missing", ["JULES_ENCRYPTION_KEYS", "JULES_BLIND_INDEX_KEY"])
def test_serve_refuses_to_start_without_a_key_naming_the_variable(jules_bin, short_tmp, missing):
    env = clean_env(**key_set(jules_bin))
    del env[missing]
    result = subprocess.run([jules_bin, "serve", "--socket", str(short_tmp / "s.sock")], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert missing in result.stderr
    assert not (short_tmp / "s.sock").exists()


@pytest.mark.parametrize("variable,value", [
    ("JULES_ENCRYPTION_KEYS", "not-a-key"),
    ("JULES_ENCRYPTION_KEYS", ""),
    ("JULES_BLIND_INDEX_KEY", "c2hvcnQ="),
    ("JULES_DEFAULT_REGION", "ZZ"),
])
def test_serve_refuses_unusable_settings(jules_bin, short_tmp, variable, value):
    env = clean_env(**key_set(jules_bin))
    env[variable] = value
    result = subprocess.run([jules_bin, "serve", "--socket", str(short_tmp / "s.sock")], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert variable in result.stderr
    if value and variable in KEY_VARIABLES:
        assert value not in result.stderr.replace(variable, ""), "a bad key is not echoed"


def test_serve_refuses_a_blind_index_key_that_is_also_an_encryption_key(jules_bin, short_tmp):
    env = clean_env(**key_set(jules_bin))
    fernet_key = env["JULES_ENCRYPTION_KEYS"].split(",")[0]
    env["JULES_BLIND_INDEX_KEY"] = fernet_key
    result = subprocess.run([jules_bin, "serve", "--socket", str(short_tmp / "s.sock")], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "JULES_BLIND_INDEX_KEY must not be one of the JULES_ENCRYPTION_KEYS" in result.stderr
    assert fernet_key not in result.stderr, "the key is not echoed"
    assert not (short_tmp / "s.sock").exists()


def test_keys_can_come_from_files(jules_bin, short_tmp):
    keys = key_set(jules_bin)
    (short_tmp / "enc").write_text(keys["JULES_ENCRYPTION_KEYS"] + "\n")
    (short_tmp / "idx").write_text(keys["JULES_BLIND_INDEX_KEY"] + "\n")
    env = clean_env(JULES_ENCRYPTION_KEYS_FILE=str(short_tmp / "enc"), JULES_BLIND_INDEX_KEY_FILE=str(short_tmp / "idx"))
    service = start_service(jules_bin, short_tmp, env)
    try:
        token = service.call("encryption.encrypt", {"plaintext": "x"})["token"]
        assert service.call("encryption.decrypt", {"token": token})["plaintext"] == "x"
    finally:
        service.stop()
    env["JULES_ENCRYPTION_KEYS"] = keys["JULES_ENCRYPTION_KEYS"]
    both = subprocess.run([jules_bin, "serve", "--socket", str(short_tmp / "s.sock")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert both.returncode != 0 and "not both" in both.stderr


def test_key_files_must_be_small_regular_files(jules_bin, short_tmp):
    keys = key_set(jules_bin)
    (short_tmp / "idx").write_text(keys["JULES_BLIND_INDEX_KEY"] + "\n")
    (short_tmp / "big").write_text(keys["JULES_ENCRYPTION_KEYS"] + "\n" + " " * (64 * 1024))
    os.mkfifo(short_tmp / "fifo")
    cases = [
        (short_tmp / "big", "larger than 64 KiB"),
        (short_tmp / "fifo", "not a regular file"),
        (pathlib.Path("/dev/zero"), "not a regular file"),
        (short_tmp, "not a regular file"),
        (short_tmp / "missing", "cannot be read"),
    ]
    for path, reason in cases:
        env = clean_env(JULES_ENCRYPTION_KEYS_FILE=str(path), JULES_BLIND_INDEX_KEY_FILE=str(short_tmp / "idx"))
        result = subprocess.run([jules_bin, "serve", "--socket", str(short_tmp / "s.sock")], env=env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode != 0, path
        assert "JULES_ENCRYPTION_KEYS_FILE" in result.stderr and reason in result.stderr, result.stderr[-2000:]
        assert keys["JULES_ENCRYPTION_KEYS"] not in result.stderr
        assert not (short_tmp / "s.sock").exists()


def test_keygen_prints_fresh_keys_that_python_fernet_accepts(jules_bin, short_tmp):
    from cryptography.fernet import Fernet

    first, second = key_set(jules_bin), key_set(jules_bin)
    assert set(first) == {"JULES_ENCRYPTION_KEYS", "JULES_BLIND_INDEX_KEY"}
    assert first != second
    assert first["JULES_ENCRYPTION_KEYS"] != first["JULES_BLIND_INDEX_KEY"]
    single = keygen(jules_bin, "--encryption-key").strip()
    Fernet(single.encode())

    # Both ways through the service, with the key the README says the API derives: Python's token decrypts in
    # Jules, Jules's token decrypts in Python. A token of the configured key itself (what stored member data is
    # sealed with) does not open through the API.
    keys = key_set(jules_bin)
    fernet = Fernet(api_key(keys["JULES_ENCRYPTION_KEYS"]))
    service = start_service(jules_bin, short_tmp, clean_env(**keys))
    try:
        from_python = fernet.encrypt("from Python, ünïcode".encode()).decode()
        assert service.call("encryption.decrypt", {"token": from_python})["plaintext"] == "from Python, ünïcode"
        from_jules = service.call("encryption.encrypt", {"plaintext": "from Jules 🍲"})["token"]
        assert fernet.decrypt(from_jules.encode()).decode() == "from Jules 🍲"
        member_data = Fernet(keys["JULES_ENCRYPTION_KEYS"].encode()).encrypt(b"+14155550123").decode()
        with pytest.raises(JulesRPCError) as refused:
            service.call("encryption.decrypt", {"token": member_data})
        assert refused.value.code == -32602 and refused.value.data["field"] == "params.token"
    finally:
        service.stop()


def api_key(configured):
    """The Fernet key encryption.encrypt and encryption.decrypt use for a configured key, as the README gives it."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    derived = HKDF(hashes.SHA256(), 32, None, b"jules-core fernet key for encryption.api").derive(
        base64.urlsafe_b64decode(configured))
    return base64.urlsafe_b64encode(derived)


PEOPLE = [("Zebedee Quuxworth", "(415) 555-0123"), ("Ysolde Fairweather", "+44 7911 123456"),
          ("Xanthippe Oddbody", "+49 30 12345678")]
DIGITS = ["4155550123", "7911123456", "3012345678"]


def test_the_database_dump_and_the_logs_hold_no_plaintext_name_or_number(jules_bin, short_tmp, fresh_database):
    service = start_service(jules_bin, short_tmp, clean_env(JULES_DATABASE_URL=fresh_database, **key_set(jules_bin)))
    try:
        household = service.call("household.create", {"name": "Plain Household", "timezone": "America/Chicago"})
        ids = []
        for name, phone in PEOPLE:
            member = service.call("member.add", {"household_id": household["id"], "name": name, "phone": phone})
            assert member["name"] == name
            assert "*" in member["phone"]
            ids.append(member["id"])
        with pytest.raises(JulesRPCError) as duplicate:
            service.call("member.add", {"household_id": household["id"], "name": "Dup", "phone": "415.555.0123"})
        assert duplicate.value.type == "conflict"
        assert duplicate.value.data["member_id"] == ids[0]
        with pytest.raises(JulesRPCError) as invalid:
            service.call("member.add", {"household_id": household["id"], "name": "Bad", "phone": "555-0123"})
        assert invalid.value.code == -32602 and invalid.value.data["field"] == "params.phone"
        assert service.call("member.find", {"phone": "+1 415 555 0123"})["id"] == ids[0]
        service.call("member.get", {"member_id": ids[0], "reveal_phone": True})
        service.call("member.list", {"household_id": household["id"]})
        service.call("member.optIn", {"member_id": ids[0]})
        service.call("member.optOut", {"member_id": ids[1], "source": "sms_keyword", "keyword": "STOP"})
        service.call("audit.list", {"phone": "+44 7911 123456"})
        service.call("member.delete", {"member_id": ids[1]})
        service.call("member.erase", {"member_id": ids[2]})
        service.call("encryption.status")
    finally:
        service.stop()

    dump = subprocess.run(["pg_dump", "--data-only", fresh_database], capture_output=True, text=True,
                          check=True, timeout=120).stdout
    assert "COPY public.members" in dump
    for name, _ in PEOPLE:
        for part in name.split():
            assert part not in dump, f"{part} is stored in the clear"
    for digits in DIGITS:
        assert digits not in dump
    assert "555-0123" not in dump

    log = service.log
    assert '"method":"member.add"' in log
    for digits in DIGITS + ["555-0123", "7911 123456", "415) 555"]:
        assert digits not in log, f"the log holds {digits}"


def members_by_id(service, household):
    members, after = {}, None
    while True:
        params = {"household_id": household, "limit": 50}
        if after:
            params["after"] = after
        page = service.call("member.list", params)
        for member in page["members"]:
            members[member["id"]] = member
        after = page.get("next_after")
        if not after:
            return members


def test_rotation_with_an_interrupted_reencrypt(jules_bin, short_tmp, fresh_database):
    old = key_set(jules_bin)
    new_key = keygen(jules_bin, "--encryption-key").strip()
    base = clean_env(JULES_DATABASE_URL=fresh_database)

    service = start_service(jules_bin, short_tmp, dict(base, **old), name="old")
    household = service.call("household.create", {"name": "Rotating"})["id"]
    expected = {}
    for index in range(60):
        phone = f"+1415555{3000 + index}"
        member = service.call("member.add", {"household_id": household, "name": f"Person {index}", "phone": phone})
        expected[member["id"]] = (f"Person {index}", phone)
    service.stop()

    rotated = dict(base, JULES_ENCRYPTION_KEYS=f"{new_key},{old['JULES_ENCRYPTION_KEYS']}",
                   JULES_BLIND_INDEX_KEY=old["JULES_BLIND_INDEX_KEY"])
    # Interrupted: SIGKILL once the first batch has been reported.
    first = subprocess.Popen([jules_bin, "reencrypt", "--batch-size", "5", "--pause-ms", "300"], env=rotated,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    progress = []
    for line in first.stderr:
        event = json.loads(line)
        if event["message"] == "progress":
            progress.append(event)
            break
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    first.stderr.close()
    assert progress and progress[0]["reencrypted"] == 5

    service = start_service(jules_bin, short_tmp, rotated, name="rotated")
    status = service.call("encryption.status")
    assert status["keys"][0]["primary"] is True
    assert 0 < status["keys"][0]["values"] < 120
    assert status["values_to_reencrypt"] == 120 - status["keys"][0]["values"]
    assert old["JULES_ENCRYPTION_KEYS"] not in json.dumps(status) and new_key not in json.dumps(status)

    second = subprocess.run([jules_bin, "reencrypt", "--batch-size", "5"], env=rotated, capture_output=True,
                            text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    events = [json.loads(line) for line in second.stderr.splitlines()]
    reported = [event for event in events if event["message"] == "progress"]
    assert reported and reported[-1]["remaining"] == 0
    assert events[-1]["message"] == "re-encryption finished"
    assert status["values_to_reencrypt"] == 2 * events[-1]["reencrypted"]

    status = service.call("encryption.status")
    assert status["values_to_reencrypt"] == 0 and status["keys"][1]["values"] == 0
    service.stop()

    only_new = dict(base, JULES_ENCRYPTION_KEYS=new_key, JULES_BLIND_INDEX_KEY=old["JULES_BLIND_INDEX_KEY"])
    service = start_service(jules_bin, short_tmp, only_new, name="new")
    try:
        listed = members_by_id(service, household)
        assert set(listed) == set(expected)
        for member_id, (name, phone) in expected.items():
            assert listed[member_id]["name"] == name
            revealed = service.call("member.get", {"member_id": member_id, "reveal_phone": True})
            assert revealed["phone_e164"] == phone
        assert service.call("member.find", {"phone": "+1 415 555 3007"})["name"] == "Person 7"
    finally:
        service.stop()


def fingerprint(key):
    """A key's id as the service reports it: the first 8 bytes of SHA-256 of the key, in hex."""
    return hashlib.sha256(base64.urlsafe_b64decode(key)).hexdigest()[:16]


def test_reencrypt_exits_1_naming_rows_that_no_configured_key_opens(jules_bin, short_tmp, fresh_database):
    old = key_set(jules_bin)
    base = clean_env(JULES_DATABASE_URL=fresh_database)
    service = start_service(jules_bin, short_tmp, dict(base, **old), name="old")
    household = service.call("household.create", {"name": "Lost key"})["id"]
    for index in range(3):
        service.call("member.add", {"household_id": household, "name": f"Quillon {index}",
                                    "phone": f"+1415555{7000 + index}"})
    service.stop()

    # The old key was dropped before its rows were re-encrypted: nothing can read them, and the run must not say
    # otherwise.
    new_key = keygen(jules_bin, "--encryption-key").strip()
    without_old = dict(base, JULES_ENCRYPTION_KEYS=new_key, JULES_BLIND_INDEX_KEY=old["JULES_BLIND_INDEX_KEY"])
    result = subprocess.run([jules_bin, "reencrypt", "--batch-size", "2"], env=without_old, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    final = json.loads(result.stderr.splitlines()[-1])
    assert final["level"] == "error" and "incomplete" in final["message"], final
    old_id = fingerprint(old["JULES_ENCRYPTION_KEYS"])
    assert final["remaining"] == 3 and final["failed"] == 3 and final["reencrypted"] == 0
    assert final["remaining_by_key"] == {old_id: 3}
    assert final["keys_not_configured"] == [old_id]
    assert "JULES_ENCRYPTION_KEYS" in final["advice"]
    for secret in ["Quillon", "41555570", new_key, old["JULES_ENCRYPTION_KEYS"], old["JULES_BLIND_INDEX_KEY"]]:
        assert secret not in result.stderr

    # With the old key back, the same command finishes and says so.
    both = dict(without_old, JULES_ENCRYPTION_KEYS=f"{new_key},{old['JULES_ENCRYPTION_KEYS']}")
    again = subprocess.run([jules_bin, "reencrypt"], env=both, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    finished = json.loads(again.stderr.splitlines()[-1])
    assert finished["message"] == "re-encryption finished" and finished["remaining"] == 0
    assert finished["reencrypted"] == 3


@pytest.mark.parametrize("option, value", [("--batch-size", "0"), ("--batch-size", "10001"), ("--pause-ms", "-1"),
                                           ("--pause-ms", "60001"), ("--max-passes", "0"), ("--max-passes", "101")])
def test_reencrypt_refuses_options_out_of_range(jules_bin, option, value):
    result = subprocess.run([jules_bin, "reencrypt", f"{option}={value}"], env=clean_env(), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 64, (result.returncode, result.stderr)
    assert f"{option} must be" in result.stderr, result.stderr
