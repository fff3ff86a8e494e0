// Drives a Mailgun-compatible API with Mailgun's official Node client (mailgun.js), changing nothing but its `url`.
// MailgunNodeClientTest runs it against a real gateway; it can also be pointed at any gateway by hand:
//
//   MAILGUN_URL=http://localhost:8080 MAILGUN_KEY=... MAILGUN_DOMAIN=acme.example \
//   MAILGUN_TO_PREFIX=node- MAILGUN_TO_DOMAIN=example.com \
//   MAILGUN_OTHER_DOMAIN=other.example MAILGUN_SECOND_DOMAIN=mail.acme.example node client-check.mjs [send|read|all]
//
// `send` sends in each shape (single, batch with recipient-variables, test mode, scheduled), reads the domains and
// checks the error answers; `read` reads events (following the client's page calls), manages the three suppression
// lists and reads stats/total and metrics; `all` (the default) does both. Every call prints one JSON line,
// {"call", "ok", "result"} or {"call", "ok": false, "status", "message", "details"}; a call expected to fail passes
// when it fails with the expected status. The exit status is 1 if any call failed unexpectedly (or succeeded when it
// should have failed), 2 on bad settings.
import FormData from 'form-data';
import Mailgun from 'mailgun.js';

const env = (name, dflt) => {
  const v = process.env[name] ?? dflt;
  if (v === undefined || v === '') {
    console.error(`client-check: ${name} is not set`);
    process.exit(2);
  }
  return v;
};

const url = env('MAILGUN_URL');
const key = env('MAILGUN_KEY');
const domain = env('MAILGUN_DOMAIN');
const prefix = env('MAILGUN_TO_PREFIX', 'node-');
const toDomain = env('MAILGUN_TO_DOMAIN', 'example.com');
// a domain that is not the caller's (another tenant's, or no one's): every call on it answers 404
const otherDomain = env('MAILGUN_OTHER_DOMAIN', 'unknown.example');
// optional: another of the caller's domains, which sends one message (so the account's totals are not the domain's)
const secondDomain = process.env.MAILGUN_SECOND_DOMAIN || null;
const deliveryDelaySeconds = Number(env('MAILGUN_DELIVERY_DELAY_SECONDS', '3'));
const phase = process.argv[2] ?? 'all';
if (!['send', 'read', 'all'].includes(phase)) {
  console.error(`client-check: the phase is send, read or all, not ${phase}`);
  process.exit(2);
}

// the client's warnings (events.get is deprecated in favour of logs.list) go to stderr; stdout holds our JSON lines
const mailgun = new Mailgun(FormData);
const mg = mailgun.client({ username: 'api', key, url, timeout: 30_000 });

const to = (name) => `${prefix}${name}@${toDomain}`;
const from = `Node check <news@${domain}>`;
let unexpected = 0;

const print = (o) => process.stdout.write(JSON.stringify(o) + '\n');

/** Runs one call; `expect` is the HTTP status of an expected failure. Returns the result (null when it failed). */
async function call(name, fn, { expect, summary = (r) => r } = {}) {
  try {
    const r = await fn();
    const line = { call: name, ok: true, result: summary(r) };
    if (expect !== undefined) {
      line.unexpected = `expected a failure with status ${expect}`;
      unexpected++;
    }
    print(line);
    return r;
  } catch (e) {
    const line = { call: name, ok: false, status: e?.status ?? null, message: e?.message ?? String(e),
      details: e?.details ?? null };
    // the client reports a connection failure as status 400 with the error code (ECONNREFUSED) as its message
    const answered = typeof e?.status === 'number' && !/^E[A-Z_]+$/.test(e?.message ?? '');
    if (expect === undefined || e?.status !== expect || !answered) {
      line.unexpected = expect === undefined ? 'failed' : `expected status ${expect}`;
      if (!answered) {
        line.stack = e?.stack || null;
      }
      unexpected++;
    }
    print(line);
    return null;
  }
}

const domainSummary = (d) => ({ name: d.name, id: d.id, state: d.state, type: d.type, created_at: d.created_at,
  is_disabled: d.is_disabled, sending_dns_records: d.sending_dns_records, receiving_dns_records: d.receiving_dns_records });

/** An RFC 2822 date in UTC, as Mailgun's o:deliverytime wants it. */
const rfc2822 = (d) => d.toUTCString().replace('GMT', '+0000');

async function send() {
  await call('domains.list', () => mg.domains.list(), { summary: (l) => l.map(domainSummary) });
  await call('domains.get', () => mg.domains.get(domain), { summary: domainSummary });
  await call('domains.get without dns', () => mg.domains.get(domain, { extended: true, with_dns: false }),
    { summary: domainSummary });
  await call("domains.get other tenant's", () => mg.domains.get(otherDomain), { expect: 404 });

  await call('messages.create single', () => mg.messages.create(domain, {
    from,
    to: [`Ann Example <${to('single')}>`],
    subject: 'Your order',
    text: 'Thank you for your order.',
    html: '<p>Thank you for your order.</p>',
    'o:tag': ['node', 'single'],
    'h:X-Crm-Id': 'crm-42',
    'h:Reply-To': `help@${domain}`,
    'v:crm-id': 'c-42',
    'o:tracking': true,
  }));

  const batch = [to('batch-ann'), to('batch-bob'), to('batch-carl')];
  await call('messages.create batch', () => mg.messages.create(domain, {
    from,
    to: batch,
    subject: 'Hello %recipient.name%',
    text: 'Your code is %recipient.code%.',
    'recipient-variables': JSON.stringify({
      [batch[0]]: { name: 'Ann', code: 'A-1' },
      [batch[1]]: { name: 'Bob', code: 'B-2' },
      [batch[2]]: { name: 'Carl', code: 'C-3' },
    }),
    'o:tag': 'batch',
    'v:campaign': 'spring',
  }));

  await call('messages.create testmode', () => mg.messages.create(domain, {
    from, to: to('testmode'), subject: 'Just a test', text: 'Not for real.', 'o:testmode': true,
  }));

  const at = new Date(Math.ceil(Date.now() / 1000) * 1000 + deliveryDelaySeconds * 1000);
  await call('messages.create deliverytime', () => mg.messages.create(domain, {
    from, to: to('later'), subject: 'Later', text: 'See you.', 'o:deliverytime': rfc2822(at),
  }), { summary: (r) => ({ ...r, deliverytime: at.toISOString() }) });

  if (secondDomain) {
    await call('messages.create second domain', () => mg.messages.create(secondDomain, {
      from: `news@${secondDomain}`, to: to('second'), subject: 'From the other domain', text: 'Hi.',
    }));
  }

  // cc (and bcc) make one shared message; with recipient-variables they are refused (Mailgun copies them per message)
  await call('messages.create cc', () => mg.messages.create(domain, {
    from, to: [to('cc-ann'), to('cc-dora')], cc: to('cc-bob'), subject: 'Shared', text: 'Hi %recipient.name%.',
    'recipient-variables': JSON.stringify({ [to('cc-ann')]: { name: 'Ann' }, [to('cc-dora')]: { name: 'Dora' } }),
  }), { expect: 400 });
  await call('messages.create unknown option', () => mg.messages.create(domain, {
    from, to: to('unknown-option'), subject: 'Optimised', text: 'x', 'o:deliverytime-optimize-period': '24h',
  }), { expect: 400 });
  await call("messages.create other tenant's domain", () => mg.messages.create(otherDomain, {
    from: `news@${otherDomain}`, to: to('nobody'), subject: 'x', text: 'x',
  }), { expect: 404 });
  const wrongKey = mailgun.client({ username: 'api', key: 'key-wrong', url, timeout: 30_000 });
  await call('messages.create wrong key', () => wrongKey.messages.create(domain, {
    from, to: to('nobody'), subject: 'x', text: 'x',
  }), { expect: 401 });
}

const eventSummary = (e) => ({ id: e.id, event: e.event, recipient: e.recipient, tags: e.tags, severity: e.severity,
  reason: e.reason, 'user-variables': e['user-variables'], 'message-id': e.message?.headers?.['message-id'],
  from: e.message?.headers?.from, subject: e.message?.headers?.subject, timestamp: e.timestamp,
  code: e['delivery-status']?.code });
const pagesSummary = (pages) => Object.fromEntries(Object.entries(pages ?? {}).map(([k, p]) => [k, p.page]));
const listSummary = (l) => ({ items: l.items.map(eventSummary), pages: pagesSummary(l.pages) });
const suppressionSummary = (s) => ({ type: s.type, address: s.address, code: s.code, error: s.error, tags: s.tags,
  created_at: s.created_at });
const suppressionList = (l) => ({ items: l.items.map(suppressionSummary), pages: pagesSummary(l.pages),
  next_address: l.pages?.next?.iteratorPosition ?? null });

/** Follows pages.next with the client's page call until a page comes back empty (at most 20 pages). */
async function allEvents(name, query) {
  const first = await call(`${name} page 1`, () => mg.events.get(domain, query), { summary: listSummary });
  if (!first) {
    return;
  }
  let page = first;
  let n = 1;
  const seen = [...first.items];
  while (page && page.items.length > 0 && n < 20) {
    n++;
    const next = page.pages.next.page;
    page = await call(`${name} page ${n}`, () => mg.events.get(domain, { page: next }), { summary: listSummary });
    seen.push(...(page?.items ?? []));
  }
  print({ call: `${name} all`, ok: true, result: { pages: n, items: seen.map(eventSummary) } });
}

async function read() {
  await allEvents('events.get ascending', { limit: 2, ascending: 'yes' });
  await call('events.get delivered to single', () => mg.events.get(domain, { event: 'delivered',
    recipient: to('single') }), { summary: listSummary });
  await call('events.get testmode', () => mg.events.get(domain, { recipient: to('testmode'), ascending: 'yes' }),
    { summary: listSummary });
  await call('events.get accepted', () => mg.events.get(domain, { event: 'accepted' }), { summary: listSummary });
  await call('events.get tags batch', () => mg.events.get(domain, { tags: 'batch', limit: 300 }),
    { summary: listSummary });
  await call('events.get failed', () => mg.events.get(domain, { event: 'failed', severity: 'permanent' }),
    { summary: listSummary });
  await call('events.get unsupported filter', () => mg.events.get(domain, { subject: 'Hello' }), { expect: 400 });

  // suppressions: create (one and several), get, list with the client's page calls, destroy, destroy all, import
  await call('suppressions.create bounces', () => mg.suppressions.create(domain, 'bounces',
    { address: to('bounced-ann'), code: 550, error: '5.1.1 user unknown' }));
  await call('suppressions.create bounces many', () => mg.suppressions.create(domain, 'bounces', [
    { address: to('bounced-bob'), code: '554', error: 'mailbox disabled' }, { address: to('bounced-carl') }]));
  await call('suppressions.get bounces', () => mg.suppressions.get(domain, 'bounces', to('bounced-ann')),
    { summary: suppressionSummary });
  const firstBounces = await call('suppressions.list bounces page 1', () => mg.suppressions.list(domain, 'bounces',
    { limit: 2 }), { summary: suppressionList });
  if (firstBounces) {
    await call('suppressions.list bounces page 2', () => mg.suppressions.list(domain, 'bounces',
      { page: firstBounces.pages.next.page }), { summary: suppressionList });
  }
  await call('suppressions.destroy bounces', () => mg.suppressions.destroy(domain, 'bounces', to('bounced-bob')));
  await call('suppressions.get bounces destroyed', () => mg.suppressions.get(domain, 'bounces', to('bounced-bob')),
    { expect: 404 });

  await call('suppressions.create unsubscribes', () => mg.suppressions.create(domain, 'unsubscribes',
    { address: to('unsub-ann'), tag: 'newsletter' }));
  await call('suppressions.create unsubscribes many', () => mg.suppressions.create(domain, 'unsubscribes', [
    { address: to('unsub-bob'), tags: ['newsletter', 'offers'] }, { address: to('unsub-carl') }]));
  await call('suppressions.get unsubscribes', () => mg.suppressions.get(domain, 'unsubscribes', to('unsub-bob')),
    { summary: suppressionSummary });
  await call('suppressions.list unsubscribes', () => mg.suppressions.list(domain, 'unsubscribes'),
    { summary: suppressionList });
  await call('suppressions.destroy unsubscribes', () => mg.suppressions.destroy(domain, 'unsubscribes',
    to('unsub-carl')));

  await call('suppressions.create complaints', () => mg.suppressions.create(domain, 'complaints',
    { address: to('complained-ann') }));
  await call('suppressions.get complaints', () => mg.suppressions.get(domain, 'complaints', to('complained-ann')),
    { summary: suppressionSummary });
  await call('suppressions.list complaints', () => mg.suppressions.list(domain, 'complaints'),
    { summary: suppressionList });
  await call('suppressions.upload complaints', () => mg.suppressions.upload(domain, 'complaints',
    `address,created_at\n${to('imported-ann')},"Fri, 02 Jan 2026 03:04:05 UTC"\n${to('imported-bob')},\n`));
  await call('suppressions.get complaints imported', () => mg.suppressions.get(domain, 'complaints',
    to('imported-ann')), { summary: suppressionSummary });
  await call('suppressions.destroy complaints', () => mg.suppressions.destroy(domain, 'complaints',
    to('imported-bob')));
  await call('suppressions.destroyAll complaints', () => mg.suppressions.destroyAll(domain, 'complaints'));
  await call('suppressions.list complaints after destroyAll', () => mg.suppressions.list(domain, 'complaints'),
    { summary: suppressionList });
  await call('suppressions.create bounces bad address', () => mg.suppressions.create(domain, 'bounces',
    { address: 'not an address' }), { expect: 400 });

  await call('stats.getDomain', () => mg.stats.getDomain(domain, {
    event: ['accepted', 'delivered', 'failed'], duration: '7d', resolution: 'day',
  }));
  await call('stats.getDomain hours', () => mg.stats.getDomain(domain, {
    event: 'delivered', start: new Date(Date.now() - 3 * 3600 * 1000), resolution: 'hour',
  }));
  await call('stats.getAccount', () => mg.stats.getAccount({ event: ['accepted', 'delivered'], duration: '7d' }));
  await call('stats.getDomain without event', () => mg.stats.getDomain(domain, {}), { expect: 400 });
  await call('metrics.getAccount', () => mg.metrics.getAccount({
    duration: '7d', resolution: 'day', dimensions: ['time'],
    metrics: ['accepted_count', 'delivered_count', 'permanent_failed_count', 'bounced_count', 'delivered_rate'],
    include_aggregates: true,
  }));
  await call('metrics.getAccount by domain', () => mg.metrics.getAccount({
    dimensions: ['domain'], metrics: ['accepted_count', 'delivered_count'],
    filter: { AND: [{ attribute: 'domain', comparator: '=', values: [{ label: domain, value: domain }] }] },
  }));
}

if (phase === 'send' || phase === 'all') {
  await send();
}
if (phase === 'read' || phase === 'all') {
  await read();
}
process.exit(unexpected === 0 ? 0 : 1);
