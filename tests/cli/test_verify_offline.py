"""Verification by anyone (contract §12): `keys public` at the centre, then `verify
--public-key` and `verify --scan` where there is no centre at all — no data directory is
looked for, made or opened — and `verify --scan` of a printed back, at the centre too.

The scans are the back page as printed: rendered by poppler (pdftoppm, 200 dpi), then
made worse the way a phone camera does (downscaled, blurred, JPEG quality 70).
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image, ImageFilter
from pypdf import PdfReader

from bcl_console.cli import main
from bcl_console.domain.signed_page import PagePayload, read_code
from bcl_console.services.platform.keys import make_centre_certificates
from tests.conftest import query, require_pdftoppm

ROOT = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def issued(capsys: pytest.CaptureFixture[str], demo_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """(a residence certificate issued at the counter, the centre's key from `keys public`)."""
    resident = query(demo_dir / "bcl.sqlite3", "SELECT resident_code FROM residents WHERE status = 'active' "
                     "AND restricted = 0 AND previous_address != '' LIMIT 1")[0][0]
    pdf, key = tmp_path / "cert.pdf", tmp_path / "K.pem"
    assert run(capsys, "issue", "--resident", resident, "--type", "residence", "--out", str(pdf),
               "--data-dir", str(demo_dir), "--now", "2026-06-17T10:00:00+09:00")[0] == 0
    code, out, err = run(capsys, "keys", "public", "--out", str(key), "--data-dir", str(demo_dir))
    assert code == 0 and err == "" and str(key) in out
    assert key.read_bytes().count(b"-----BEGIN CERTIFICATE-----") == 2
    return pdf, key


def back_png(pdf: Path, tmp_path: Path) -> Path:
    """The back of the first front as printed: poppler at 200 dpi."""
    require_pdftoppm()
    subprocess.run(["pdftoppm", "-r", "200", "-png", "-f", "2", "-l", "2", str(pdf), str(tmp_path / "back")],
                   check=True, timeout=60)
    (png,) = tmp_path.glob("back*.png")
    return png


def test_keys_public_prints_the_same_pem_and_describes_it(capsys: pytest.CaptureFixture[str], demo_dir: Path,
                                                          issued: tuple[Path, Path]) -> None:
    _, key = issued
    code, out, _ = run(capsys, "keys", "public", "--data-dir", str(demo_dir))
    assert code == 0 and out.encode() == key.read_bytes()
    code, out, _ = run(capsys, "keys", "public", "--json", "--data-dir", str(demo_dir))
    doc = json.loads(out)
    assert doc["pem"].encode() == key.read_bytes() and len(doc["key_sha256"]) == 64
    signing, ca = (c["subject"] for c in doc["certificates"])
    assert signing.startswith("CN=BCL Certificate Issuance") and ca.startswith("CN=BCL Centre CA")
    # only a centre has keys to publish: an empty directory is a usage error, and stays empty
    empty = demo_dir.parent / "no-centre"
    code, _, err = run(capsys, "keys", "public", "--data-dir", str(empty))
    assert code == 2 and "holds no centre" in err and not empty.exists()


def test_verify_with_the_public_key_alone_needs_no_data_directory(
        capsys: pytest.CaptureFixture[str], issued: tuple[Path, Path], tmp_path: Path) -> None:
    pdf, key = issued
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BCL_")}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / ".local/share"), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_CACHE_HOME=str(home / ".cache"), XDG_STATE_HOME=str(home / ".local/state"),
               PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "bcl_console", "verify", str(pdf), "--public-key", str(key),
                           "--json"], cwd=home, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["status"] == "genuine" and doc["revocation_checked"] is False, doc
    assert "revocation was not checked" in doc["reason"] and doc["type"] == "residence"
    assert list(home.iterdir()) == []  # no data directory, no config, no cache was made
    # in process, with a --data-dir that does not exist: it is not used, so not made
    nowhere = tmp_path / "nowhere"
    code, out, err = run(capsys, "verify", str(pdf), "--public-key", str(key), "--json", "--data-dir", str(nowhere))
    assert code == 0 and json.loads(out)["status"] == "genuine" and err == "" and not nowhere.exists()


def test_another_centres_key_and_bad_key_files(capsys: pytest.CaptureFixture[str], issued: tuple[Path, Path],
                                               tmp_path: Path) -> None:
    pdf, key = issued
    _, ca_cert, private, cert = make_centre_certificates("elsewhere")
    other = tmp_path / "other.pem"
    other.write_bytes(cert + ca_cert)
    code, out, _ = run(capsys, "verify", str(pdf), "--public-key", str(other), "--json")
    doc = json.loads(out)
    assert code == 3 and doc["status"] == "altered" and "not by this centre's key" in doc["reason"]
    cases = [
        (tmp_path / "missing.pem", None, 2, "missing.pem cannot be read"),
        (pdf, None, 3, "is not a PEM certificate or public key"),
        (tmp_path / "secret.pem", private, 3, "is a private key"),
    ]
    for path, data, exit_code, message in cases:
        if data is not None:
            path.write_bytes(data)
        code, out, err = run(capsys, "verify", str(pdf), "--public-key", str(path), "--json")
        assert code == exit_code and message in err and str(path) in err, err
        assert len(err.strip().splitlines()) == 1 and message in json.loads(out)["error"]["message"]
    for argv in ([str(pdf), "--scan", str(pdf)], [str(pdf), "--code", "ABCD-EFGH-JKLM-NPQR"], []):
        code, _, err = run(capsys, "verify", *argv, "--public-key", str(key))
        assert code == 2 and "exactly one of" in err, err
    code, _, err = run(capsys, "verify", "--code", "ABCD-EFGH-JKLM-NPQR", "--public-key", str(key))
    assert code == 2 and "at the issuing centre" in err


def test_a_scan_of_the_back_gives_the_signed_front(capsys: pytest.CaptureFixture[str], demo_dir: Path,
                                                   issued: tuple[Path, Path], tmp_path: Path) -> None:
    pdf, key = issued
    png = back_png(pdf, tmp_path)
    code, out, _ = run(capsys, "verify", "--scan", str(png), "--public-key", str(key), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["status"] == "genuine" and doc["signature_valid"] is True, doc
    assert doc["revocation_checked"] is False
    front = "".join(PdfReader(pdf).pages[0].extract_text().split())
    fields = doc["pages"][0]["fields"]
    assert {"氏名", "住所", "従前の住所", "生年月日"} <= set(fields)
    for label, value in fields.items():  # every signed field is on the printed front, as printed
        assert "".join(label.split()) in front and "".join(value.split()) in front, (label, value)
    printed = doc["printed"]
    assert printed["code"] in front.replace("検証コード", "") and "".join(printed["number"].split()) in front
    # a person reads them: one "label: value" a line
    code, out, _ = run(capsys, "verify", "--scan", str(png), "--public-key", str(key))
    assert code == 0 and out.startswith("GENUINE:")
    for label, value in fields.items():
        assert f"  {label}: {value}\n" in out
    # at the centre: the record's state too
    code, out, _ = run(capsys, "verify", "--scan", str(png), "--json", "--data-dir", str(demo_dir))
    assert code == 0 and json.loads(out)["status"] == "genuine" and "revocation_checked" not in json.loads(out)
    with sqlite3.connect(demo_dir / "bcl.sqlite3") as db:
        db.execute("UPDATE issuances SET state = 'voided', voided_at = '2026-06-17T01:30:00+00:00' "
                   "WHERE verification_code = ?", (printed["code"],))
    code, out, _ = run(capsys, "verify", "--scan", str(png), "--json", "--data-dir", str(demo_dir))
    assert code == 3 and json.loads(out)["status"] == "voided", out
    # the same scan offline knows nothing of that, and says so
    code, out, _ = run(capsys, "verify", "--scan", str(png), "--public-key", str(key), "--json")
    assert code == 0 and json.loads(out)["revocation_checked"] is False


def test_a_re_encoded_code_with_one_field_changed_is_altered(capsys: pytest.CaptureFixture[str],
                                                               issued: tuple[Path, Path], tmp_path: Path) -> None:
    pdf, key = issued
    with Image.open(back_png(pdf, tmp_path)) as image:
        (found,) = zxingcpp.read_barcodes(image.convert("L"))
    payload = read_code(bytes(found.bytes))
    body = payload.fields
    body["fields"] = [[label, "東雲県東浜市松原一丁目1番1号" if label == "住所" else value]
                      for label, value in body["fields"]]
    forged_json = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    assert forged_json != payload.json_bytes
    text = PagePayload(forged_json, payload.signature).code_bytes()  # the genuine signature, kept
    code_image = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M").to_image(scale=8)
    forged = tmp_path / "forged.png"
    height, width = code_image.shape[:2]
    Image.frombytes("L", (width, height), bytes(memoryview(code_image))).save(forged)  # type: ignore[arg-type]
    code, out, _ = run(capsys, "verify", "--scan", str(forged), "--public-key", str(key), "--json")
    doc = json.loads(out)
    assert code == 3 and doc["status"] == "altered" and doc["signature_valid"] is False, doc
    assert "signature does not verify" in doc["reason"]
    code, out, _ = run(capsys, "verify", "--scan", str(forged), "--public-key", str(key))
    assert code == 3 and out.startswith("ALTERED:") and "住所:" not in out  # an unsigned content is not shown


def test_a_photo_like_jpeg_still_verifies(capsys: pytest.CaptureFixture[str], issued: tuple[Path, Path],
                                          tmp_path: Path) -> None:
    pdf, key = issued
    with Image.open(back_png(pdf, tmp_path)) as image:
        photo = image.convert("RGB").resize((image.width * 2 // 3, image.height * 2 // 3), Image.Resampling.BILINEAR)
    photo = photo.filter(ImageFilter.GaussianBlur(0.8))
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=70)
    jpeg = tmp_path / "photo.jpg"
    jpeg.write_bytes(buffer.getvalue())
    code, out, _ = run(capsys, "verify", "--scan", str(jpeg), "--public-key", str(key), "--json")
    assert code == 0 and json.loads(out)["status"] == "genuine", out


def test_scans_that_cannot_be_read(capsys: pytest.CaptureFixture[str], issued: tuple[Path, Path],
                                   tmp_path: Path) -> None:
    pdf, key = issued
    blank = tmp_path / "blank.png"
    Image.new("L", (400, 400), 255).save(blank)
    code, out, _ = run(capsys, "verify", "--scan", str(blank), "--public-key", str(key), "--json")
    assert code == 3 and json.loads(out)["status"] == "unknown" and "no 2-D code" in json.loads(out)["reason"]
    for path, message in ((pdf, "is not an image that can be read"), (tmp_path / "none.png", "cannot be read")):
        code, _, err = run(capsys, "verify", "--scan", str(path), "--public-key", str(key))
        assert code == 3 and message in err and str(path) in err, err
