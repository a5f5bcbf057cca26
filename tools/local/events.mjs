// `npm run events -- [orderId|outOrderNo] [--wait <type>]`: what the local receiver (the fake's /fake/receiver/local,
// where `npm start` points the endpoint "local") got, each delivery verified with the Standard Webhooks library
// (npm `standardwebhooks`, independent of the app's signer). With an order id, only that order's events; with
// --wait, it polls up to 30 s until an event of that type for the order has arrived.
// Exit codes: 0 every shown delivery verified (and the awaited one arrived), 1 otherwise.
import { Webhook } from "standardwebhooks";

const fake = process.env.FAKE ?? "http://127.0.0.1:7072";
const endpoint = process.env.EVENTS_ENDPOINT ?? "local";
// The local endpoint's secret from tools/local/start.sh: a local-only value, never a deployed one.
const secret = process.env.EVENTS_SECRET ?? "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const args = process.argv.slice(2);
const waitAt = args.indexOf("--wait");
const waitFor = waitAt >= 0 ? args[waitAt + 1] : undefined;
const order = args.find((a, i) => !a.startsWith("--") && i !== waitAt + 1);

const verifier = new Webhook(secret);

async function received() {
  const response = await fetch(`${fake}/fake/receiver/${endpoint}`);
  if (!response.ok) throw new Error(`GET ${fake}/fake/receiver/${endpoint} answered ${response.status}`);
  return (await response.json()).map((r) => {
    let event;
    let verified;
    try {
      event = verifier.verify(r.body, r.headers);
      verified = "signature verified";
    } catch (e) {
      verified = `NOT VERIFIED: ${e.message}`;
      try { event = JSON.parse(r.body); } catch { event = {}; }
    }
    return { id: r.headers["webhook-id"], event, verified, answer: r.answer };
  });
}

function ofOrder(d) {
  const data = d.event.data ?? {};
  return !order || data.orderId === order || data.outOrderNo === order;
}

let shown = [];
for (const deadline = Date.now() + 30_000; ;) {
  shown = (await received()).filter(ofOrder);
  if (!waitFor || shown.some((d) => d.event.type === waitFor) || Date.now() > deadline) break;
  await new Promise((r) => setTimeout(r, 500));
}

for (const d of shown) {
  const data = d.event.data ?? {};
  const state = data.status ?? [data.state, data.stateDescription].filter(Boolean).join("/");
  console.log(`${d.event.type} #${d.event.sequence} ${d.id} (${state}) answered ${d.answer}: ${d.verified}`);
}

const missing = waitFor && !shown.some((d) => d.event.type === waitFor);
if (missing) console.log(`no ${waitFor} event for ${order ?? "any order"} arrived at ${endpoint} within 30 s`);
process.exit(missing || shown.some((d) => !d.verified.startsWith("signature verified")) ? 1 : 0);
