/**
 * requestUrl (the WebSocket upgrade's URL) reads what `new URL(req.url, base)` reads, for any
 * request line: the same pathname and the same first value of every query name, whether it takes
 * its plain fast path or falls back to URL. Hostile and odd inputs included.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { requestUrl } from "../../src/http/request-url.js";

const NAMES = ["token", "since", "epoch", "a", "", "b", "tok", "tokenx", "a b", "é"];

function same(raw: string): void {
  let url: URL;
  try {
    url = new URL(raw, "http://duet.invalid");
  } catch {
    // What URL refuses (a `//` that names an invalid host), requestUrl refuses too.
    assert.throws(() => requestUrl(raw), `${JSON.stringify(raw)} is refused`);
    return;
  }
  const ours = requestUrl(raw);
  assert.equal(ours.pathname, url.pathname, `pathname of ${JSON.stringify(raw)}`);
  for (const name of NAMES) {
    assert.equal(
      ours.searchParams.get(name),
      url.searchParams.get(name),
      `${name} of ${JSON.stringify(raw)}`,
    );
  }
}

test("the URLs clients send: the plain fast path reads them as URL does", () => {
  const jwt =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzdG9ybS0xIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDM2MDB9.Zm9vYmFy-_x";
  for (const raw of [
    "/v1/ws",
    "/v1/ws?",
    `/v1/ws?token=${jwt}`,
    `/v1/ws?token=${jwt}&since=42&epoch=0f3a-9c`,
    `/v1/ws?since=0&token=${jwt}`,
    "/v1/ws?token=a&token=b",
    "/v1/ws?token=&since=",
    "/v1/ws?token",
    "/v1/ws?=x&token==y=z",
    "/v1/ws?&&token=t&&",
    "/",
  ]) {
    same(raw);
  }
});

test("odd and hostile URLs read as URL reads them (percent escapes, +, fragments, dot segments, //host)", () => {
  for (const raw of [
    "/v1/ws?token=a%2Eb",
    "/v1/ws?token=a+b",
    "/v1/ws?token=%zz",
    "/v1/ws?token=%E2%82%AC",
    "/v1/ws?tok%65n=x",
    "/v1/ws?token=x#frag&since=3",
    "/v1/ws#x?token=y",
    "/v1/./ws?token=x",
    "/v1/../v1/ws?token=x",
    "/v1/%77s?token=x",
    "//evil/v1/ws?token=x",
    "/v1//ws?token=x",
    "/v1\\ws?token=x",
    "/v1/ws?token=a b",
    '/v1/ws?token="x"',
    "/v1/ws?token=é",
    "/v1/ws?a b=1",
    "/v1/ws??token=x",
    "/v1/ws?token=x?y",
    "",
    "v1/ws?token=x",
    "/v1/ws;x?token=y",
    "/v1/ws?token=%00",
    "/v1/ws?token=\u0001",
  ]) {
    same(raw);
  }
});

test("random request lines over an alphabet of URL's special characters read as URL reads them", () => {
  const alphabet = [
    "a",
    "b",
    "t",
    "o",
    "k",
    "e",
    "n",
    "=",
    "&",
    "?",
    "#",
    "%",
    "2",
    "E",
    "+",
    " ",
    "/",
    ".",
    "\\",
    "é",
    "-",
    "_",
    "~",
  ];
  let seed = 7;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed;
  };
  for (let i = 0; i < 5000; i++) {
    const length = next() % 24;
    let raw = next() % 4 === 0 ? "" : "/";
    for (let j = 0; j < length; j++) raw += alphabet[next() % alphabet.length];
    same(raw);
  }
});
