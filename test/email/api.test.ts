import { SELF } from "cloudflare:test";
import PostalMime from "postal-mime";
import { beforeAll, describe, expect, it } from "vitest";
import { api, expectError, ok, TOKEN } from "../helpers";
import { BASE as AUTOMATION_BASE } from "./fixtures";

const TEMPLATE =
  '<html><body><p>Hi {{party.name}}, your cart {{record.id}}</p><a href="https://shop.example/cart/{{record.id}}">Cart</a>' +
  '<a href="mailto:help@example.com">Help</a><a href="unsubscribe|https://shop.example/bye">Unsubscribe</a></body></html>';

let scenarioId: string;
let activityId: string;
let waitActivityId: string;

beforeAll(async () => {
  await ok("PUT", "/records/party/michael", { name: "Michael Scott", email: "michael@example.com" });
  await ok("PUT", "/records/party/dwight", { name: "Dwight Schrute", email: "dwight@example.com" });
  await ok("PUT", "/records/party/toby", { name: "Toby" });
  const scenario = await ok("POST", "/scenarios", { name: "Welcome", model: "party", domain: [] });
  scenarioId = scenario.id;
  const activity = await ok("POST", `/scenarios/${scenarioId}/activities`, {
    name: "Welcome e-mail",
    action: "send_email",
    email_from: "Sales <sales@other.example>",
    email_title: "Welcome {{party.name}} & co",
    email_template: TEMPLATE,
  });
  activityId = activity.id;
  const wait = await ok("POST", `/scenarios/${scenarioId}/activities`, { name: "Wait", delay: "P1D" });
  waitActivityId = wait.id;
  await ok("POST", `/scenarios/${scenarioId}/run`);
  await ok("POST", "/jobs/enroll");
  await ok("POST", "/jobs/process");
});

describe("the e-mail archive API", () => {
  it("lists the e-mails sent, newest first, with the documented fields", async () => {
    const res = await api("GET", `/emails?scenario_id=${scenarioId}`);
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(2);
    expect(res.body.next_cursor).toBeNull();
    const [newer, older] = res.body.items;
    expect(Number(newer.id)).toBeGreaterThan(Number(older.id));
    const michael = res.body.items.find((m: { to: string }) => m.to.includes("michael"));
    expect(michael).toEqual({
      id: expect.stringMatching(/^\d+$/),
      scenario_id: scenarioId,
      activity_id: activityId,
      record_activity_id: expect.stringMatching(/^\d+$/),
      to: '"Michael Scott" <michael@example.com>',
      from: '"Sales" <marketing@example.com>',
      subject: "Welcome Michael Scott & co",
      // Derived from the e-mail's id (its row stores none), the same as in the message's headers below.
      message_id: expect.stringMatching(/^<\d+\.[A-Za-z0-9_-]{16}@example\.com>$/),
      provider_message_id: expect.stringMatching(/^local-[0-9a-f]{24}$/),
      transport: "local",
      status: "sent",
      error: null,
      attempt: 1,
      sent_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      created_at: expect.stringMatching(/Z$/),
    });
  });

  it("filters by activity and pages with a cursor", async () => {
    const page1 = await api("GET", `/emails?activity_id=${activityId}&limit=1`);
    expect(page1.status).toBe(200);
    expect(page1.body.items).toHaveLength(1);
    // By activity, the list goes by record activity: the cursor names the last one's record activity and id.
    expect(page1.body.next_cursor).toBe(`${page1.body.items[0].record_activity_id}-${page1.body.items[0].id}`);
    const page2 = await api("GET", `/emails?activity_id=${activityId}&limit=1&cursor=${page1.body.next_cursor}`);
    expect(page2.body.items).toHaveLength(1);
    expect(page2.body.items[0].id).not.toBe(page1.body.items[0].id);
    expect(page2.body.next_cursor).toBeNull();
    const other = await api("GET", `/emails?activity_id=${waitActivityId}`);
    expect(other.body.items).toEqual([]);
  });

  it("rejects a bad query with 400", async () => {
    expectError(await api("GET", "/emails?scenario_id=abc"), 400, "scenario_id");
    expectError(await api("GET", "/emails?limit=0"), 400, "limit");
    expectError(await api("GET", "/emails?cursor=x"), 400, "cursor");
    expectError(await api("GET", "/emails?status=lost"), 400, "status");
  });

  it("refuses calls without the token", async () => {
    expectError(await api("GET", "/emails", undefined, { token: null }), 401);
    expectError(await api("GET", "/emails/1", undefined, { token: "wrong" }), 401);
    expectError(await api("POST", `/activities/${activityId}/preview`, {}, { token: null }), 401);
  });

  it("shows one e-mail with its HTML, text and headers", async () => {
    const list = await api("GET", `/emails?activity_id=${activityId}`);
    const michael = list.body.items.find((m: { to: string }) => m.to.includes("michael"));
    const res = await api("GET", `/emails/${michael.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ...michael });
    expect(res.body.html).toContain("Hi Michael Scott, your cart michael");
    expect(res.body.html).toMatch(new RegExp(`href="${AUTOMATION_BASE}/l/[A-Za-z0-9_-]+">Cart`));
    expect(res.body.html).toContain('href="mailto:help@example.com"');
    expect(res.body.html).toMatch(
      new RegExp(`href="${AUTOMATION_BASE}/u/[0-9]+-[0-9a-f]{32}/[A-Za-z0-9_-]+">Unsubscribe`),
    );
    expect(res.body.html).not.toContain("https://shop.example");
    expect(res.body.text).toContain("Hi Michael Scott");
    expect(res.body.headers).toMatchObject({
      From: '"Sales" <marketing@example.com>',
      To: '"Michael Scott" <michael@example.com>',
      "Reply-To": '"Sales" <sales@other.example>',
      Subject: "Welcome Michael Scott & co",
      "Message-ID": michael.message_id,
      "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    });
    expect(res.body.headers["List-Unsubscribe"]).toMatch(new RegExp(`^<${AUTOMATION_BASE}/u/[0-9]+-[0-9a-f]{32}>$`));
  });

  it("serves the raw message as message/rfc822", async () => {
    const list = await api("GET", `/emails?activity_id=${activityId}`);
    const id = list.body.items[0].id;
    const res = await SELF.fetch(`https://ma.example/api/emails/${id}/raw`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("message/rfc822");
    const parsed = await PostalMime.parse(await res.arrayBuffer());
    expect(parsed.messageId).toBe(list.body.items[0].message_id);
    expect(parsed.replyTo).toEqual([{ name: "Sales", address: "sales@other.example" }]);
  });

  it("answers 404 for an unknown e-mail", async () => {
    expectError(await api("GET", "/emails/999999"), 404, "e-mail 999999 not found");
    expectError(await api("GET", "/emails/nope"), 404);
    expectError(await api("GET", "/emails/999999/raw"), 404);
  });

  it("records a failure for a party without an address, without archiving an e-mail", async () => {
    const ras = await api("GET", `/scenarios/${scenarioId}/record-activities?activity_id=${activityId}&state=failed`);
    expect(ras.status).toBe(200);
    expect(ras.body.items).toHaveLength(1);
    expect(ras.body.items[0].reason).toBe("the party has no e-mail address");
    const list = await api("GET", `/emails?record_activity_id=${ras.body.items[0].id}`);
    expect(list.body.items).toEqual([]);
  });
});

describe("the preview API", () => {
  it("renders the e-mail for a record without tracking, sending or archiving", async () => {
    const before = await api("GET", "/emails?limit=500");
    const res = await api("POST", `/activities/${activityId}/preview`, { record_model: "party", record_id: "dwight" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      lang: null,
      subject: "Welcome Dwight Schrute & co",
      from: '"Sales" <marketing@example.com>',
      to: '"Dwight Schrute" <dwight@example.com>',
      reply_to: '"Sales" <sales@other.example>',
      html: expect.any(String),
      text: expect.any(String),
    });
    expect(res.body.html).toContain('href="https://shop.example/cart/dwight"');
    expect(res.body.html).toContain(`href="${AUTOMATION_BASE}/u/preview"`);
    expect(res.body.html).not.toContain("/o/");
    expect(res.body.text).toContain("https://shop.example/cart/dwight");
    const after = await api("GET", "/emails?limit=500");
    expect(after.body.items.length).toBe(before.body.items.length);
  });

  it("gives a null recipient for a party without an address", async () => {
    const res = await api("POST", `/activities/${activityId}/preview`, { record_model: "party", record_id: "toby" });
    expect(res.status).toBe(200);
    expect(res.body.to).toBeNull();
  });

  it("answers 404 for an unknown activity or record, 400 for an activity that sends nothing", async () => {
    const target = { record_model: "party", record_id: "michael" };
    expectError(await api("POST", "/activities/999999/preview", target), 404, "activity");
    expectError(
      await api("POST", `/activities/${activityId}/preview`, { ...target, record_id: "nobody" }),
      404,
      "nobody",
    );
    expectError(await api("POST", `/activities/${waitActivityId}/preview`, target), 400, "send_email");
    expectError(
      await api("POST", `/activities/${activityId}/preview`, { ...target, record_model: "sale" }),
      400,
      "party",
    );
    expectError(await api("POST", `/activities/${activityId}/preview`, { record_model: "party" }), 400, "record_id");
  });
});
