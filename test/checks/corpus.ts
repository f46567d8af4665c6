import type { Api } from "../browser/harness.mjs";
import { TOKEN, until } from "../browser/harness.mjs";

/**
 * The e-mails the checks judge, sent for real by a local `wrangler dev` (scenarios run, the composer and the local
 * transport): a newsletter with images, a short message, its French version, and a double opt-in confirmation.
 * Each is read back as the raw message handed to the transport (GET /api/emails/{id}/raw).
 */
export interface Sent {
  name: string;
  /** Shown for comparison only: not a message the service sends by default (the checks do not bound its score). */
  comparison?: boolean;
  id: string;
  scenarioId: string;
  html: string;
  raw: string;
}

const IMG = "https://shop.example/img";

const NEWSLETTER =
  "<html><body>" +
  `<p><a href="https://shop.example/"><img src="${IMG}/logo.png" width="160" height="48" alt="Dunder Mifflin"></a></p>` +
  "<h1>Paper, people and the autumn catalogue</h1>" +
  "<p>Hello {{party.name}},</p>" +
  "<p>The autumn catalogue is out. This season we have recycled copy paper in six weights, cardstock in twelve " +
  "colours, and envelopes that finally close on the first try. Our branch in Scranton has tested every one of them " +
  "for a month, in real offices, with real printers.</p>" +
  `<p><img src="${IMG}/catalogue.jpg" width="560" height="280" alt="The autumn catalogue on a desk"></p>` +
  "<h2>What is new</h2>" +
  "<ul><li>Recycled copy paper, 75 to 120 g/m², now at the price of the ordinary kind.</li>" +
  "<li>Cardstock for invitations and place cards, sold by the hundred.</li>" +
  "<li>Next-day delivery for every order placed before noon.</li></ul>" +
  "<h2>From the branches</h2>" +
  "<p>Stamford has moved to a larger warehouse on the east side of town, with a loading bay for the trucks and a " +
  "small showroom where you can feel every paper before you order it. Nashua now opens on Saturday mornings, from " +
  "nine to one, for the customers who asked us for it. Utica has hired two new sales representatives, who will call " +
  "the offices of the county over the coming weeks to introduce themselves.</p>" +
  "<p>In Scranton, the quality assurance team finished its yearly review of our suppliers. Two mills were replaced " +
  "by a cooperative in the north of the state that makes its paper from the offcuts of local sawmills, which is why " +
  "the recycled range costs less this year. The review is on our website, with the name of every mill we buy from " +
  "and what each one makes for us.</p>" +
  "<p>Finally, thank you to the hundred and twelve customers who answered our survey in the summer. You asked for " +
  "fewer catalogues on paper, so this one is online first and printed only for those who ask for a copy; you asked " +
  "for clearer invoices, and from November they list every delivery on its own line with its date and its weight. " +
  "We read every answer, and the next survey will come in the spring.</p>" +
  "<p>One more thing: the warehouse team would like to remind everyone that pallets can be collected at the back " +
  "entrance between seven and ten in the morning, and that the forklift is not a ride, whatever anybody in the " +
  "office says. Collections need a signature, so please bring the order number printed on your confirmation.</p>" +
  "<h2>Good to know</h2>" +
  "<p>Orders above fifty dollars are delivered free of charge within the county. Returns are accepted for thirty " +
  "days, without a question, as long as the reams are still sealed. If a delivery arrives damaged, reply to this " +
  "e-mail with a photo and we will send a replacement the next morning. Our customer service answers the phone from " +
  "eight to six, Monday to Friday, and replies to every e-mail within one working day.</p>" +
  '<p><a href="https://shop.example/catalogue/autumn">Browse the catalogue</a> or ' +
  '<a href="https://shop.example/stores">find your nearest branch</a>.</p>' +
  "<p>See you soon,<br>The Dunder Mifflin team</p>" +
  '<p><a href="preferences">Choose what we send you</a> · <a href="unsubscribe">Unsubscribe</a></p>' +
  "</body></html>";

const SHORT =
  "<p>Hello {{party.name}},</p><p>Your order has shipped and should arrive on Thursday. " +
  '<a href="https://shop.example/orders/track">Follow the parcel</a>.</p>' +
  '<p>The Dunder Mifflin team</p><p><a href="unsubscribe">Unsubscribe</a></p>';

const SHORT_FR =
  "<p>Bonjour {{party.name}},</p><p>Votre commande est partie et devrait arriver jeudi. " +
  '<a href="https://shop.example/fr/orders/track">Suivre le colis</a>.</p>' +
  '<p>L’équipe Dunder Mifflin</p><p><a href="unsubscribe">Se désabonner</a></p>';

const CONFIRMATION =
  "<p>Hello {{party.name}},</p><p>Please confirm that you want the Dunder Mifflin newsletter: one e-mail a month " +
  "about paper, offers and our branches.</p>" +
  '<p><a href="confirm">Yes, subscribe me</a></p>' +
  "<p>If you did not ask for it, ignore this e-mail: nothing will be sent.</p>";

/** Runs four scenarios for parties named with `suffix` and returns their e-mails once sent. */
export async function sendCorpus(base: string, api: Api, suffix: string): Promise<Sent[]> {
  await api("POST", "/records/party/batch", {
    records: [
      { id: `pam-${suffix}`, name: "Pam Beesly", email: "pam@example.com", lang: "en" },
      { id: `jean-${suffix}`, name: "Jean Dupont", email: "jean@example.com", lang: "fr" },
      { id: `kelly-${suffix}`, name: "Kelly Kapoor", email: "kelly@example.com", lang: "en" },
    ],
  });
  const scenario = async (
    name: string,
    ids: string[],
    more: Record<string, unknown>,
    activity: Record<string, unknown>,
    child?: Record<string, unknown>,
  ) => {
    const s = await api("POST", "/scenarios", {
      name: `${name} ${suffix}`,
      model: "party",
      domain: [["id", "in", ids.map((id) => `${id}-${suffix}`)]],
      unsubscribable: true,
      ...more,
    });
    const a = await api("POST", `/scenarios/${s.id}/activities`, { name, action: "send_email", ...activity });
    if (child) await api("POST", `/scenarios/${s.id}/activities`, { parent_id: a.id, ...child });
    await api("POST", `/scenarios/${s.id}/run`);
    return s.id as string;
  };
  await api("PUT", `/topics/news-${suffix}`, {
    name: "The monthly newsletter",
    description: "Paper, offers, branches",
  });
  const newsletter = await scenario(
    "Newsletter",
    ["pam"],
    { topics: [`news-${suffix}`] },
    { email_title: "The autumn catalogue is out", email_template: NEWSLETTER },
  );
  // A message that needs no open tracking goes without the pixel (docs/email.md, "Open tracking").
  const shipped = await scenario(
    "Order shipped",
    ["pam", "jean"],
    {},
    {
      email_title: "Your order has shipped",
      email_template: SHORT,
      email_translations: { fr: { email_title: "Votre commande est partie", email_template: SHORT_FR } },
      settings: { open_tracking: false },
    },
  );
  const confirm = await scenario(
    "Confirm",
    ["kelly"],
    { double_opt_in: true },
    { email_title: "Please confirm your subscription", email_template: CONFIRMATION },
    {
      name: "Welcome",
      on: "subscription_confirmed",
      action: "send_email",
      email_title: "Welcome",
      email_template: "<p>Glad to have you.</p>",
    },
  );
  await api("POST", "/jobs/enroll");
  await api("POST", "/jobs/process");
  const sent = async (scenarioId: string, count: number) =>
    until(
      async () => {
        const list = await api("GET", `/emails?scenario_id=${scenarioId}&status=sent`);
        return list.items.length === count ? (list.items as { id: string; to: string }[]) : null;
      },
      { what: `${count} e-mail(s) of scenario ${scenarioId} sent` },
    );
  // The same short message with the open pixel, for comparison: what open tracking costs such a message.
  const pixel = await scenario(
    "Order shipped, tracked",
    ["pam"],
    {},
    { email_title: "Your order has shipped", email_template: SHORT },
  );
  await api("POST", "/jobs/enroll");
  await api("POST", "/jobs/process");
  const [news, ship, conf, tracked] = await Promise.all([
    sent(newsletter, 1),
    sent(shipped, 2),
    sent(confirm, 1),
    sent(pixel, 1),
  ]);
  const read = async (name: string, scenarioId: string, id: string): Promise<Sent> => {
    const email = await api("GET", `/emails/${id}`);
    const res = await fetch(`${base}/api/emails/${id}/raw`, { headers: { authorization: `Bearer ${TOKEN}` } });
    if (!res.ok) throw new Error(`GET /emails/${id}/raw: ${res.status}`);
    return { name, id, scenarioId, html: email.html, raw: await res.text() };
  };
  const byTo = (list: { id: string; to: string }[], who: string) => list.find((m) => m.to.includes(who))?.id as string;
  return Promise.all([
    read("newsletter", newsletter, byTo(news, "pam")),
    read("short message", shipped, byTo(ship, "pam")),
    read("translated (fr)", shipped, byTo(ship, "jean")),
    read("confirmation", confirm, byTo(conf, "kelly")),
    read("short, with pixel", pixel, byTo(tracked, "pam")).then((m) => ({ ...m, comparison: true })),
  ]);
}
