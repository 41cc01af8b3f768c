// Care-team sharing and password reset with Tidepool's real platform client (tidepool-platform-client
// 0.67.0): a parent invites a partner who has no account yet, the partner signs up, finds the
// invitation and accepts it; the partner then forgets the password and resets it.
//
//   node sharing.js <baseUrl>
//
// The reset key travels by email, which this script cannot read: it prints `NEED_RESET_KEY <email>` and
// reads the key as one line on stdin (test_sharing_client.py takes it from the server's outbox). The
// last line of stdout is a JSON summary of the steps; the exit status is 0 only if every step passed.
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const readline = require('node:readline');

const createClient = require('tidepool-platform-client');

const PASSWORD = 'correct-horse-battery';
const NEW_PASSWORD = 'a-brand-new-password';
const baseUrl = (process.argv[2] || '').replace(/\/+$/, '');
if (!/^https?:\/\//.test(baseUrl)) {
  process.stderr.write('usage: node sharing.js <baseUrl>\n');
  process.exit(2);
}
if (typeof globalThis.navigator === 'undefined' || globalThis.navigator.onLine === undefined) {
  Object.defineProperty(globalThis, 'navigator', {value: {onLine: true}, configurable: true, writable: true});
}

function newClient() {
  const store = {};
  return createClient({
    host: baseUrl, uploadApi: baseUrl, dataHost: baseUrl,
    metricsSource: 'inlet-client-test', metricsVersion: '1.0.0',
    log: {warn() {}, info() {}, debug() {}},
    localStore: {getItem: (k) => store[k], setItem: (k, v) => { store[k] = v; }, removeItem: (k) => { delete store[k]; }},
  });
}

function call(client, method, ...args) {
  return new Promise((resolve, reject) => {
    client[method](...args, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/** The error a call returned, without tokens. */
function describe(err) {
  if (err instanceof assert.AssertionError) return {assertion: err.message};
  if (err && typeof err === 'object') {
    const body = err.body !== undefined ? err.body : err.response && err.response.body;
    return {status: err.status, message: err.message ? String(err.message) : undefined,
      body: body === undefined ? undefined : JSON.parse(JSON.stringify(body, (k, v) => (k === 'sessionToken' ? undefined : v)))};
  }
  return {message: String(err)};
}

const steps = [];
const passed = new Set();
async function step(name, needs, fn) {
  const blockedBy = needs.filter((n) => !passed.has(n));
  if (blockedBy.length) {
    steps.push({step: name, ok: false, blockedBy});
    return;
  }
  try {
    const detail = await fn();
    steps.push({step: name, ok: true, ...(detail === undefined ? {} : {detail})});
    passed.add(name);
  } catch (err) {
    steps.push({step: name, ok: false, error: describe(err)});
  }
}

const lines = readline.createInterface({input: process.stdin});
const iterator = lines[Symbol.asyncIterator]();
async function ask(question) {
  process.stdout.write(question + '\n');
  const next = await iterator.next();
  return next.done ? '' : next.value.trim();
}

async function main() {
  const run = crypto.randomBytes(4).toString('hex');
  const parent = {username: `parent-${run}@example.com`, client: newClient()};
  const partner = {username: `partner-${run}@example.com`, client: newClient()};
  const state = {};

  await step('signupParent', [], async () => {
    const user = await call(parent.client, 'signup',
      {username: parent.username, password: PASSWORD, emails: [parent.username]}, {noRefresh: true});
    parent.id = user.userid;
  });

  await step('inviteUser', ['signupParent'], async () => {
    // The address in capitals: invitations match addresses case-insensitively.
    const invite = await call(parent.client, 'inviteUser', partner.username.toUpperCase(),
      {view: {}, upload: {}}, parent.id);
    assert.equal(invite.type, 'careteam_invitation');
    assert.equal(invite.status, 'pending');
    assert.equal(invite.email, partner.username);
    assert.equal(invite.creatorId, parent.id);
    assert.deepEqual(invite.context.permissions, {view: {}, upload: {}});
    assert.equal(typeof invite.key, 'string');
    state.key = invite.key;
  });

  await step('inviteUserAgainConflicts', ['inviteUser'], async () => {
    const err = await call(parent.client, 'inviteUser', partner.username, {view: {}}, parent.id).then(
      () => null, (e) => e);
    assert.ok(err, 'a second pending invitation to the same address is refused');
    assert.equal(err.status, 409);
  });

  await step('invitesSent', ['inviteUser'], async () => {
    const sent = await call(parent.client, 'invitesSent', parent.id);
    assert.deepEqual(sent.map((i) => i.key), [state.key]);
    assert.equal(sent[0].creator.userid, parent.id);
  });

  await step('signupPartner', [], async () => {
    const user = await call(partner.client, 'signup',
      {username: partner.username, password: PASSWORD, emails: [partner.username]}, {noRefresh: true});
    partner.id = user.userid;
  });

  await step('invitesReceived', ['inviteUser', 'signupPartner'], async () => {
    const received = await call(partner.client, 'invitesReceived', partner.id);
    assert.deepEqual(received.map((i) => i.key), [state.key], 'the invitation made before sign-up waits');
    assert.equal(received[0].creatorId, parent.id);
  });

  await step('acceptInvite', ['invitesReceived'], async () => {
    await call(partner.client, 'acceptInvite', state.key, partner.id, parent.id);
    const members = await call(parent.client, 'getTeamMembers', parent.id);
    assert.deepEqual(members[partner.id], {view: {}, upload: {}});
    assert.deepEqual(await call(partner.client, 'invitesReceived', partner.id), []);
    assert.deepEqual(await call(parent.client, 'invitesSent', parent.id), []);
  });

  await step('partnerReadsParentData', ['acceptInvite'], async () => {
    const data = await call(partner.client, 'getDeviceDataForUser', parent.id, {});
    assert.ok(Array.isArray(data));
  });

  await step('requestPasswordReset', ['signupPartner'], async () => {
    await call(partner.client, 'requestPasswordReset', partner.username);
    await call(partner.client, 'requestPasswordReset', `nobody-${run}@example.com`); // the same answer
  });

  await step('confirmPasswordReset', ['requestPasswordReset'], async () => {
    const key = await ask(`NEED_RESET_KEY ${partner.username}`);
    assert.ok(key, 'the test supplied the reset key from the email');
    state.resetKey = key;
    await call(partner.client, 'confirmPasswordReset', {key, email: partner.username, password: NEW_PASSWORD});
  });

  await step('resetEndsSessionsAndChangesPassword', ['confirmPasswordReset'], async () => {
    const err = await call(partner.client, 'getCurrentUser').then(() => null, (e) => e);
    assert.ok(err, 'the old session ended');
    const fresh = newClient();
    const old = await call(fresh, 'login', {username: partner.username, password: PASSWORD}, {noRefresh: true})
      .then(() => null, (e) => e);
    assert.ok(old, 'the old password no longer works');
    const result = await call(fresh, 'login', {username: partner.username, password: NEW_PASSWORD}, {noRefresh: true});
    assert.equal(result.userid, partner.id);
    partner.client = fresh;
  });

  await step('reusedResetKeyRefused', ['confirmPasswordReset'], async () => {
    const err = await call(newClient(), 'confirmPasswordReset',
      {key: state.resetKey, email: partner.username, password: 'yet-another-password'}).then(() => null, (e) => e);
    assert.ok(err, 'a used key is refused');
    assert.equal(err.status, 404);
  });

  const failures = steps.filter((s) => !s.ok);
  return {ok: failures.length === 0, steps};
}

main().then(
  (summary) => {
    process.stdout.write(JSON.stringify(summary) + '\n');
    process.exit(summary.ok ? 0 : 1);
  },
  (err) => {
    process.stdout.write(JSON.stringify({ok: false, crashed: String(err && err.stack || err)}) + '\n');
    process.exit(1);
  },
);
