// Drives a live Inlet server with Tidepool's real platform client (tidepool-platform-client 0.67.0),
// the way the uploader and blip use it: sign up, log in, upload a data set in batches of 1,000 datums,
// close it, read it back through every filter, look at data sources and sharing.
//
//   node drive.js <baseUrl>
//
// Every call's result is asserted here. The last line of stdout is a JSON summary; the exit status is
// 0 only if every step passed. A failing step records the error the client returned and the HTTP
// exchanges it made (method, path, status), and steps that need it are reported as blocked.
'use strict';

const assert = require('node:assert/strict');
const diagnostics = require('node:diagnostics_channel');
const crypto = require('node:crypto');

const createClient = require('tidepool-platform-client');
const clientVersion = require('tidepool-platform-client/package.json').version;
const {DEVICE, KNOWN_CONVERSIONS, buildUpload, dataSetInfo, toMmol} = require('./datums');

const BATCH_SIZE = 1000; // what the uploader sends per request (it halves a batch on HTTP 413)
const PASSWORD = 'correct-horse-battery';
const STORAGE_ONLY = ['_id', '_userId', '_groupId', '_version', '_active', '_schemaVersion', 'createdTime',
  'modifiedTime', 'provenance'];

const baseUrl = (process.argv[2] || '').replace(/\/+$/, '');
if (!/^https?:\/\//.test(baseUrl)) {
  process.stderr.write('usage: node drive.js <baseUrl>\n');
  process.exit(2);
}

// Node 21+ has a global navigator without onLine, which the client reads as "offline".
if (typeof globalThis.navigator === 'undefined' || globalThis.navigator.onLine === undefined) {
  Object.defineProperty(globalThis, 'navigator', {value: {onLine: true}, configurable: true, writable: true});
}

// ---- what went over the wire (method, path, status), for the report ---------------------------------
const exchanges = [];
diagnostics.subscribe('http.client.request.start', ({request}) => {
  exchanges.push({method: request.method, path: request.path, status: null, request});
});
diagnostics.subscribe('http.client.response.finish', ({request, response}) => {
  const exchange = exchanges.find((x) => x.request === request);
  if (exchange) {
    exchange.status = response.statusCode;
  }
});
function exchangesSince(index) {
  return exchanges.slice(index).map(({method, path, status}) => ({method, path: shortPath(path), status}));
}
function shortPath(path) {
  return path.length > 200 ? path.slice(0, 200) + '...' : path;
}

// ---- the client ------------------------------------------------------------------------------------
function memoryStore() {
  const store = {};
  return {
    getItem: (key) => store[key],
    setItem: (key, value) => { store[key] = value; },
    removeItem: (key) => { delete store[key]; },
  };
}

function newClient() {
  // Tidepool splits the API over hosts; Inlet serves them all from one origin.
  return createClient({
    host: baseUrl,
    uploadApi: baseUrl,
    dataHost: baseUrl,
    metricsSource: 'inlet-client-test',
    metricsVersion: '1.0.0',
    log: {warn() {}, info() {}, debug() {}},
    localStore: memoryStore(),
  });
}

/** Call a callback-style client method; resolve with its result, reject with its error. */
function call(client, method, ...args) {
  return new Promise((resolve, reject) => {
    client[method](...args, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/** The error a client call returned, without tokens, small enough to print. */
function describeError(err) {
  if (err instanceof assert.AssertionError) {
    return {assertion: err.message};
  }
  const out = {};
  if (err && typeof err === 'object') {
    if (err.status !== undefined) out.status = err.status;
    if (err.message) out.message = String(err.message);
    let body = err.body !== undefined ? err.body : err.response && err.response.body;
    if (body === undefined && !('status' in out)) body = err; // the client's own error objects
    if (body !== undefined) out.body = scrub(body);
  } else {
    out.message = String(err);
  }
  return out;
}
function scrub(value) {
  const text = JSON.stringify(value, (key, v) => (key === 'sessionToken' ? undefined : v));
  if (text === undefined) return String(value);
  return text.length > 3000 ? text.slice(0, 3000) + '...' : JSON.parse(text);
}

// ---- steps ------------------------------------------------------------------------------------------
const steps = [];
const passed = new Set();

async function step(name, needs, fn) {
  const blockedBy = needs.filter((n) => !passed.has(n));
  if (blockedBy.length) {
    steps.push({step: name, ok: false, blockedBy});
    return;
  }
  const mark = exchanges.length;
  try {
    const detail = await fn();
    steps.push({step: name, ok: true, ...(detail === undefined ? {} : {detail})});
    passed.add(name);
  } catch (err) {
    let error;
    if (err && err.rawResponse !== undefined) { // superagent could not parse the response body
      error = {message: `unreadable response: ${err.message}`, status: err.statusCode,
        rawBody: String(err.rawResponse).slice(0, 500)};
    } else if (err instanceof Error && !(err instanceof assert.AssertionError) && !('status' in err)) {
      error = {message: err.stack || String(err)};
    } else {
      error = describeError(err);
    }
    steps.push({step: name, ok: false, error, http: exchangesSince(mark)});
  }
}

// ---- helpers over the data read back ---------------------------------------------------------------
function countBy(data, key) {
  const counts = {};
  for (const d of data) {
    const k = key(d);
    if (k !== undefined) counts[k] = (counts[k] || 0) + 1;
  }
  return counts;
}
const typeOf = (d) => d.type;
const subTypeKey = (d) => {
  const sub = d.subType || d.deliveryType;
  return sub && d.type !== 'upload' ? `${d.type}/${sub}` : undefined;
};
const ms = (time) => Date.parse(time);
function within(data, type, start, end) {
  const types = type.split(',');
  return data.filter((d) => types.includes(d.type) && (start === undefined || ms(d.time) >= ms(start)) &&
    (end === undefined || ms(d.time) <= ms(end)));
}

async function main() {
  const run = crypto.randomBytes(4).toString('hex');
  const owner = {username: `owner-${run}@example.com`, client: newClient()};
  const viewer = {username: `viewer-${run}@example.com`, client: newClient()};
  const upload = buildUpload();
  const {data, stored, expected} = upload;
  const state = {batches: []};

  // ---- accounts -------------------------------------------------------------------------------------
  await step('signup', [], async () => {
    const user = await call(owner.client, 'signup',
      {username: owner.username, password: PASSWORD, emails: [owner.username]}, {noRefresh: true});
    assert.equal(typeof user.userid, 'string', 'signup returns the user with its userid');
    assert.ok(user.userid.length > 0);
    assert.equal(user.username, owner.username);
    assert.deepEqual(user.emails, [owner.username]);
    assert.ok(owner.client.isLoggedIn(), 'the session token comes back in x-tidepool-session-token');
    assert.equal(owner.client.getUserId(), user.userid);
    owner.id = user.userid;
    return {userid: user.userid};
  });

  await step('logout', ['signup'], async () => {
    const status = await call(owner.client, 'logout');
    assert.equal(status, 200);
    assert.equal(owner.client.isLoggedIn(), false);
  });

  await step('login', ['signup'], async () => {
    const result = await call(owner.client, 'login', {username: owner.username, password: PASSWORD},
      {noRefresh: true});
    assert.equal(result.userid, owner.id);
    assert.equal(result.user.username, owner.username);
    assert.ok(owner.client.isLoggedIn(), 'the session token comes back in x-tidepool-session-token');
  });

  await step('getCurrentUser', ['login'], async () => {
    const user = await call(owner.client, 'getCurrentUser');
    assert.equal(user.userid, owner.id);
    assert.equal(user.username, owner.username);
  });

  await step('checkUploadVersions', [], async () => {
    const info = await call(owner.client, 'checkUploadVersions');
    assert.equal(typeof info.versions.uploaderMinimum, 'string', 'GET /info has versions.uploaderMinimum');
    return {uploaderMinimum: info.versions.uploaderMinimum};
  });

  await step('getTime', [], async () => {
    const body = await call(owner.client, 'getTime');
    const skew = Math.abs(ms(body.data.time) - Date.now());
    assert.ok(skew < 5 * 60 * 1000, `GET /v1/time is the server's time (${body.data.time})`);
  });

  // ---- the upload -----------------------------------------------------------------------------------
  await step('createDatasetForUser', ['login'], async () => {
    const body = await call(owner.client, 'createDatasetForUser', owner.id, dataSetInfo(owner.id));
    const set = body.data;
    assert.ok(set, 'the response is {data: <data set>, meta}');
    assert.match(set.id, /^[0-9a-f]{32}$/);
    assert.equal(set.uploadId, set.id);
    assert.equal(set.type, 'upload');
    assert.equal(set.state, 'open');
    assert.equal(set.deviceId, DEVICE.deviceId);
    assert.equal(set.createdUserId, owner.id);
    assert.equal(set.deduplicator.name, 'org.tidepool.deduplicator.device.deactivate.hash');
    state.dataSetId = set.id;
    return {id: set.id};
  });

  await step('addDataToDataset', ['createDatasetForUser'], async () => {
    async function send(batch) {
      try {
        await call(owner.client, 'addDataToDataset', state.dataSetId, batch);
        state.batches.push(batch.length);
      } catch (err) {
        if (err.status === 413 && batch.length > 1) { // as the uploader: halve and retry
          const half = Math.floor(batch.length / 2);
          await send(batch.slice(0, half));
          await send(batch.slice(half));
          return;
        }
        throw err;
      }
    }
    for (let i = 0; i < data.length; i += BATCH_SIZE) {
      await send(data.slice(i, i + BATCH_SIZE));
    }
    return {datums: data.length, batches: state.batches};
  });

  await step('dataHiddenUntilClosed', ['addDataToDataset'], async () => {
    const before = await call(owner.client, 'getDeviceDataForUser', owner.id, {type: 'cbg'});
    assert.equal(before.length, 0, 'data in an open "normal" data set is not served until the set is closed');
  });

  await step('finalizeDataset', ['addDataToDataset'], async () => {
    const result = await call(owner.client, 'finalizeDataset', state.dataSetId);
    assert.equal(result, undefined);
  });

  await step('getUploadRecordsForDevice', ['finalizeDataset'], async () => {
    const records = await call(owner.client, 'getUploadRecordsForDevice', owner.id, DEVICE.deviceId, 1);
    assert.ok(Array.isArray(records), 'GET /v1/users/:id/data_sets is a bare JSON array');
    assert.equal(records.length, 1);
    const [set] = records;
    assert.equal(set.id, state.dataSetId);
    assert.equal(set.uploadId, state.dataSetId);
    assert.equal(set.state, 'closed', 'the data set shows closed');
    if ('dataState' in set) assert.equal(set.dataState, 'closed');
    assert.equal(set.deviceId, DEVICE.deviceId);
    assert.equal(set.client.name, 'org.tidepool.uploader');
    return {state: set.state};
  });

  // ---- reading it back ------------------------------------------------------------------------------
  await step('getDeviceDataForUser', ['finalizeDataset'], async () => {
    const all = await call(owner.client, 'getDeviceDataForUser', owner.id, {});
    assert.ok(Array.isArray(all));
    const uploads = all.filter((d) => d.type === 'upload');
    const datums = all.filter((d) => d.type !== 'upload');
    assert.deepEqual(countBy(datums, typeOf), expected.counts, 'counts per type equal what was uploaded');
    assert.deepEqual(countBy(datums, subTypeKey), expected.subTypes, 'counts per subType');
    assert.equal(uploads.length, 1, 'the data set record is served as type "upload"');
    assert.equal(uploads[0].uploadId, state.dataSetId);

    for (const d of all) {
      for (const field of STORAGE_ONLY) {
        assert.ok(!(field in d), `storage-only field ${field} is not served (${d.type})`);
      }
    }
    for (const d of datums) {
      assert.match(d.id, /^[0-9a-z]{32}$/);
      assert.equal(d.uploadId, state.dataSetId);
      assert.equal(d.deviceId, DEVICE.deviceId);
      assert.ok(!Number.isNaN(ms(d.time)));
    }
    return {total: all.length, counts: countBy(all, typeOf)};
  });

  await step('valuesInMmolL', ['getDeviceDataForUser'], async () => {
    const all = await call(owner.client, 'getDeviceDataForUser', owner.id, {type: 'cbg,smbg,wizard,pumpSettings,deviceEvent,bolus'});
    const sent = new Map(data.map((d) => [`${d.type}@${ms(d.time)}@${d.subType || ''}`, d]));
    const find = (d) => sent.get(`${d.type}@${ms(d.time)}@${d.subType || ''}`);
    let checked = 0;

    for (const d of all.filter((x) => x.type === 'cbg' || x.type === 'smbg')) {
      const original = find(d);
      assert.ok(original, `a ${d.type} at ${d.time} was uploaded`);
      assert.equal(d.units, 'mmol/L', `${d.type} units are stored as mmol/L`);
      const want = original.units === 'mg/dL' ? toMmol(original.value) : original.value;
      assert.equal(d.value, want, `${d.type} ${original.value} ${original.units} is ${want} mmol/L`);
      checked++;
    }
    const known = all.filter((d) => d.type === 'cbg' && ms(d.time) < ms('2024-03-01T00:30:00Z'));
    assert.deepEqual(known.map((d) => d.value).sort((a, b) => a - b),
      Object.values(KNOWN_CONVERSIONS).sort((a, b) => a - b), 'the platform\'s worked conversions');

    const wizards = all.filter((d) => d.type === 'wizard');
    assert.equal(wizards.length, expected.counts.wizard);
    for (const w of wizards) {
      const original = find(w);
      assert.equal(w.units, 'mmol/L');
      assert.equal(w.bgInput, toMmol(original.bgInput));
      assert.equal(w.insulinSensitivity, toMmol(original.insulinSensitivity));
      assert.deepEqual(w.bgTarget, {low: toMmol(80), high: toMmol(120)});
      if (original.bolus) {
        assert.equal(typeof w.bolus, 'string', 'an embedded bolus is stored on its own; wizard.bolus is its id');
        const bolus = all.find((d) => d.id === w.bolus);
        assert.ok(bolus, 'the wizard\'s bolus is served');
        assert.equal(bolus.normal, 5);
        assert.equal(ms(bolus.time), ms(w.time));
      } else {
        assert.ok(!('bolus' in w));
      }
      checked++;
    }

    const settings = all.filter((d) => d.type === 'pumpSettings');
    assert.equal(settings.length, expected.counts.pumpSettings);
    for (const s of settings) {
      assert.equal(s.units.bg, 'mmol/L');
      assert.deepEqual(s.bgTargets.Standard, [{start: 0, low: toMmol(90), high: toMmol(140)}]);
      assert.deepEqual(s.insulinSensitivities.Standard, [{start: 0, amount: toMmol(50)}]);
      assert.deepEqual(s.carbRatios.Standard, [{start: 0, amount: 10}]);
      checked++;
    }

    const calibrations = all.filter((d) => d.type === 'deviceEvent' && d.subType === 'calibration');
    assert.equal(calibrations.length, expected.subTypes['deviceEvent/calibration']);
    for (const c of calibrations) {
      assert.equal(c.units, 'mmol/L');
      assert.equal(c.value, toMmol(find(c).value));
      checked++;
    }
    return {checked};
  });

  // Each filter narrows to exactly what the uploaded data says it should.
  async function filtered(name, options, start, end, keep = () => true) {
    await step(name, ['getDeviceDataForUser'], async () => {
      const got = await call(owner.client, 'getDeviceDataForUser', owner.id, options);
      const want = within(stored, options.type, start, end).filter(keep);
      assert.ok(want.length > 0);
      assert.deepEqual(countBy(got, typeOf), countBy(want, typeOf), `${JSON.stringify(options)} narrows by type`);
      assert.deepEqual(countBy(got, subTypeKey), countBy(want, subTypeKey), 'and by subType');
      for (const d of got) {
        if (start) assert.ok(ms(d.time) >= ms(start), `${d.time} >= ${start}`);
        if (end) assert.ok(ms(d.time) <= ms(end), `${d.time} <= ${end}`);
      }
      return {count: got.length};
    });
  }

  await filtered('filterType', {type: 'smbg'});
  await filtered('filterTypes', {type: 'cbg,food'});
  await filtered('filterSubType', {type: 'bolus,deviceEvent', subType: 'square,alarm'}, undefined, undefined,
    (d) => d.subType === 'square' || d.subType === 'alarm');
  const day2 = ['2024-03-02T00:00:00.000Z', '2024-03-02T23:59:59.999Z'];
  await filtered('filterDatesUtc', {type: 'cbg', startDate: day2[0], endDate: day2[1]}, ...day2);
  // The client does not encode query values: each "+" reaches the server as a space.
  const offset = ['2024-03-03T02:00:00+02:00', '2024-03-03T14:00:00+02:00'];
  await filtered('filterDatesOffset', {type: 'cbg,smbg', startDate: offset[0], endDate: offset[1]}, ...offset);
  await filtered('filterStartDateOffset', {type: 'food,bolus', startDate: '2024-03-09T00:00:00+02:00'},
    '2024-03-09T00:00:00+02:00');
  await filtered('filterEndDate', {type: 'pumpSettings,basal', endDate: '2024-03-01T03:00:00Z'},
    undefined, '2024-03-01T03:00:00Z');

  await step('filterUploadIdDeviceId', ['getDeviceDataForUser'], async () => {
    const byUpload = await call(owner.client, 'getDeviceDataForUser', owner.id,
      {type: 'food', uploadId: state.dataSetId});
    assert.equal(byUpload.length, expected.counts.food);
    const byDevice = await call(owner.client, 'getDeviceDataForUser', owner.id,
      {type: 'food', deviceId: DEVICE.deviceId});
    assert.equal(byDevice.length, expected.counts.food);
    const otherDevice = await call(owner.client, 'getDeviceDataForUser', owner.id,
      {type: 'food', deviceId: 'some-other-device'});
    assert.equal(otherDevice.length, 0);
  });

  await step('filterLatest', ['getDeviceDataForUser'], async () => {
    const latest = await call(owner.client, 'getDeviceDataForUser', owner.id, {type: 'cbg,smbg', latest: true});
    assert.deepEqual(countBy(latest, typeOf), {cbg: 1, smbg: 1}, 'latest: the newest datum of each type');
    for (const d of latest) {
      const newest = Math.max(...data.filter((x) => x.type === d.type).map((x) => ms(x.time)));
      assert.equal(ms(d.time), newest);
    }
  });

  // ---- data sources ---------------------------------------------------------------------------------
  await step('getDataSourcesForUser', ['login'], async () => {
    const sources = await call(owner.client, 'getDataSourcesForUser', owner.id);
    assert.ok(Array.isArray(sources), 'GET /v1/users/:id/data_sources is an array');
    assert.equal(sources.length, 0, 'a new account has no partner connections');
  });

  // ---- sharing (access groups) ----------------------------------------------------------------------
  await step('getViewableUsers', ['login'], async () => {
    const groups = await call(owner.client, 'getViewableUsers', owner.id);
    assert.ok(groups && typeof groups === 'object', 'GET /access/groups/:id is a map');
    assert.ok(groups[owner.id] && groups[owner.id].root, 'an account holds root on its own data');
    return groups;
  });

  await step('getUploadGroups', ['login'], async () => {
    const groups = await call(owner.client, 'getUploadGroups', owner.id);
    assert.deepEqual(Object.keys(groups), [owner.id], 'the owner may upload to their own account only');
  });

  await step('signupViewer', [], async () => {
    const user = await call(viewer.client, 'signup',
      {username: viewer.username, password: PASSWORD, emails: [viewer.username]}, {noRefresh: true});
    viewer.id = user.userid;
    assert.ok(viewer.id && viewer.id !== owner.id);
  });

  await step('setAccessPermissions', ['login', 'signupViewer'], async () => {
    const perms = await call(owner.client, 'setAccessPermissions', viewer.id, {view: {}});
    assert.deepEqual(perms, {view: {}}, 'POST /access/:owner/:viewer answers with the permissions now held');
  });

  await step('getAccessPermissionsForGroup', ['setAccessPermissions'], async () => {
    const perms = await call(owner.client, 'getAccessPermissionsForGroup', owner.id, viewer.id);
    assert.deepEqual(perms, {view: {}});
  });

  await step('getTeamMembers', ['setAccessPermissions'], async () => {
    const team = await call(owner.client, 'getTeamMembers', owner.id);
    assert.deepEqual(team[viewer.id], {view: {}}, 'GET /access/:owner lists who can see the owner');
  });

  await step('viewerGetViewableUsers', ['setAccessPermissions'], async () => {
    const groups = await call(viewer.client, 'getViewableUsers', viewer.id);
    assert.deepEqual(groups[owner.id], {view: {}});
    assert.ok(groups[viewer.id] && groups[viewer.id].root);
  });

  await step('viewerGetUploadGroups', ['setAccessPermissions'], async () => {
    const groups = await call(viewer.client, 'getUploadGroups', viewer.id);
    assert.ok(!(owner.id in groups), 'view alone does not allow uploads');
  });

  await step('viewerReadsData', ['setAccessPermissions', 'getDeviceDataForUser'], async () => {
    const smbg = await call(viewer.client, 'getDeviceDataForUser', owner.id, {type: 'smbg'});
    assert.equal(smbg.length, expected.counts.smbg, 'a viewer reads the owner\'s data');
  });

  await step('grantUpload', ['setAccessPermissions'], async () => {
    const perms = await call(owner.client, 'setAccessPermissions', viewer.id, {view: {}, upload: {}});
    assert.deepEqual(perms, {view: {}, upload: {}});
    const groups = await call(viewer.client, 'getUploadGroups', viewer.id);
    assert.deepEqual(groups[owner.id], {view: {}, upload: {}});
  });

  await step('revokeAccess', ['setAccessPermissions'], async () => {
    await call(owner.client, 'setAccessPermissions', viewer.id, {});
    const groups = await call(viewer.client, 'getViewableUsers', viewer.id);
    assert.ok(!(owner.id in groups), 'an empty permission set removes the share');
    const denied = await call(viewer.client, 'getDeviceDataForUser', owner.id, {type: 'smbg'}).then(
      (result) => ({result}), (err) => ({err}));
    assert.ok(denied.err, `reading after revoke fails (it returned ${JSON.stringify(denied.result)})`);
    assert.equal(denied.err.status, 403);
  });

  // ---- restricted token, as getExportDataURL and the partner connect flow create it ---------------------
  await step('createRestrictedTokenForUser', ['login'], async () => {
    const token = await call(owner.client, 'createRestrictedTokenForUser', owner.id, {});
    assert.equal(typeof token.id, 'string');
    assert.equal(token.userId, owner.id);
    assert.ok(Array.isArray(token.paths) && token.paths.length > 0, 'a token made with {} gets default paths');
    assert.ok(ms(token.expirationTime) > Date.now());
    assert.ok(!Number.isNaN(ms(token.createdTime)));
    return {paths: token.paths};
  });

  // ---- a second upload from the same device: the uploader asks for the most recent record -----------
  await step('secondUpload', ['finalizeDataset', 'getUploadRecordsForDevice'], async () => {
    const info = dataSetInfo(owner.id);
    info.time = new Date(ms(info.time) + 24 * 3600 * 1000).toISOString();
    const body = await call(owner.client, 'createDatasetForUser', owner.id, info);
    const second = body.data.id;
    await call(owner.client, 'finalizeDataset', second);
    const newest = await call(owner.client, 'getUploadRecordsForDevice', owner.id, DEVICE.deviceId, 1);
    assert.deepEqual(newest.map((s) => s.id), [second], 'size=1 gives the newest data set');
    const both = await call(owner.client, 'getUploadRecordsForDevice', owner.id, DEVICE.deviceId, 10);
    assert.deepEqual(both.map((s) => s.id), [second, state.dataSetId], 'newest first');
    assert.ok(both.every((s) => s.state === 'closed'));
  });

  await step('logoutAll', ['login'], async () => {
    assert.equal(await call(owner.client, 'logout'), 200);
    if (viewer.id) assert.equal(await call(viewer.client, 'logout'), 200);
  });

  const failures = steps.filter((s) => !s.ok);
  return {
    ok: failures.length === 0,
    baseUrl,
    client: {name: 'tidepool-platform-client', version: clientVersion},
    node: process.version,
    uploaded: {datums: data.length, batches: state.batches, expected},
    passed: steps.filter((s) => s.ok).map((s) => s.step),
    failed: failures.map((s) => s.step),
    steps,
  };
}

main().then(
  (summary) => {
    process.stdout.write(JSON.stringify(summary) + '\n');
    // exit explicitly: nothing must keep Node alive (the client's session-refresh timer, sockets)
    process.exit(summary.ok ? 0 : 1);
  },
  (err) => {
    process.stdout.write(JSON.stringify({ok: false, crashed: String(err && err.stack || err)}) + '\n');
    process.exit(1);
  },
);
