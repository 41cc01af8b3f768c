// A deterministic upload of mixed device data, shaped as the Tidepool uploader sends it: ten days from one
// pump with a CGM and a meter, every datum carrying the device fields (deviceId, deviceTime,
// timezoneOffset, conversionOffset). Glucose is mostly in mg/dL so the server must convert it.
// `node datums.js` prints the data set body and the datums as JSON (for checking them by hand).
'use strict';

const MGDL_PER_MMOLL = 18.01559;
const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const DAYS = 10;
const START = Date.parse('2024-03-01T00:00:00Z');
const TIMEZONE = 'Europe/Paris';
const TIMEZONE_OFFSET = 60; // minutes; Paris is UTC+1 until the end of March
const DEVICE = {
  deviceId: 'tandemCIQ10027171234567',
  deviceManufacturers: ['Tandem'],
  deviceModel: 'tandemCIQ',
  deviceSerialNumber: '1234567',
  deviceTags: ['bgm', 'cgm', 'insulin-pump'],
};
// The platform's own examples (data-model.md): mg/dL in, mmol/L stored.
const KNOWN_CONVERSIONS = {54: 2.9974, 70: 3.88552, 140: 7.77105, 180: 9.99135, 250: 13.87687, 400: 22.20299};

/** mg/dL to mmol/L as the platform stores it: value / 18.01559, 5 decimals, half away from zero. */
function toMmol(mgdl) {
  const value = mgdl / MGDL_PER_MMOLL;
  return Math.trunc(value * 100000 + Math.sign(value) * 0.5) / 100000;
}

function iso(ms) {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

function deviceTime(ms) {
  return new Date(ms + TIMEZONE_OFFSET * MINUTE).toISOString().slice(0, 19);
}

function datum(type, ms, fields) {
  return {
    type,
    ...fields,
    time: iso(ms),
    deviceTime: deviceTime(ms),
    timezoneOffset: TIMEZONE_OFFSET,
    conversionOffset: 0,
    deviceId: DEVICE.deviceId,
  };
}

/** The data set body the uploader sends when it starts an upload (createDatasetForUser). */
function dataSetInfo(userId) {
  const uploadedAt = START + DAYS * DAY + 2 * HOUR;
  return {
    type: 'upload',
    byUser: userId,
    client: {name: 'org.tidepool.uploader', version: '2.53.0', private: {os: 'linux-x64-20'}},
    computerTime: deviceTime(uploadedAt),
    conversionOffset: 0,
    deduplicator: {name: 'org.tidepool.deduplicator.device.deactivate.hash'},
    ...DEVICE,
    deviceTime: deviceTime(uploadedAt),
    time: iso(uploadedAt),
    timeProcessing: 'utc-bootstrapping',
    timezone: TIMEZONE,
    timezoneOffset: TIMEZONE_OFFSET,
    version: '2.53.0',
  };
}

/**
 * Every datum of the upload (`data`), what the server stores from it (`stored`), and the counts it must
 * serve back: `expected.counts` per type and `expected.subTypes` per "type/subType".
 */
function buildUpload() {
  const data = [];
  const add = (d) => data.push(d);

  // cbg: one every 5 minutes; the first six are the platform's worked conversion examples.
  const known = Object.keys(KNOWN_CONVERSIONS).map(Number);
  for (let i = 0; i < (DAYS * DAY) / (5 * MINUTE); i++) {
    const mgdl = i < known.length ? known[i] : 40 + ((i * 37) % 361);
    const cbg = {units: 'mg/dL', value: mgdl, sampleInterval: 5 * MINUTE};
    if (i % 3 === 0) {
      cbg.trend = ['constant', 'slowRise', 'slowFall'][i % 9 / 3];
      cbg.trendRateUnits = 'mg/dL/minute';
      cbg.trendRate = [0.5, 1.5, -1.5][i % 9 / 3];
    }
    add(datum('cbg', START + i * 5 * MINUTE, cbg));
  }

  for (let day = 0; day < DAYS; day++) {
    const midnight = START + day * DAY;

    // smbg: four a day, alternating mg/dL and mmol/L meters readings.
    [7, 12, 18, 22].forEach((hour, n) => {
      const ms = midnight + hour * HOUR + 10 * MINUTE;
      const smbg =
        n % 2 === 0
          ? {units: 'mg/dL', value: 60 + ((day * 4 + n) * 23) % 240, subType: 'linked'}
          : {units: 'mmol/L', value: Math.round((4 + ((day * 4 + n) * 0.7) % 9) * 10) / 10, subType: 'manual'};
      add(datum('smbg', ms, smbg));
    });

    // basal: a scheduled segment every hour, one temp basal a day.
    for (let hour = 0; hour < 24; hour++) {
      add(
        datum('basal', midnight + hour * HOUR, {
          deliveryType: 'scheduled',
          rate: [0.8, 0.9, 1.1, 1.2][hour % 4],
          duration: HOUR,
          scheduleName: 'Standard',
        })
      );
    }
    add(
      datum('basal', midnight + 15 * HOUR + 30 * MINUTE, {
        deliveryType: 'temp',
        rate: 0.45,
        percent: 0.5,
        duration: 30 * MINUTE,
        suppressed: {type: 'basal', deliveryType: 'scheduled', rate: 0.9},
      })
    );

    // bolus: three normal, one square a day.
    [7, 12, 18].forEach((hour, n) => {
      add(datum('bolus', midnight + hour * HOUR + 5 * MINUTE, {subType: 'normal', normal: 1 + day * 0.25 + n}));
    });
    add(datum('bolus', midnight + 20 * HOUR + 5 * MINUTE, {subType: 'square', extended: 2, duration: HOUR}));

    // wizard: one a day; every other one embeds the normal bolus it led to (which becomes its own datum).
    const wizard = {
      units: 'mg/dL',
      bgInput: 150 + day * 5,
      insulinSensitivity: 50,
      bgTarget: {low: 80, high: 120},
      carbInput: 45,
      insulinCarbRatio: 10,
      insulinOnBoard: 0.5,
      recommended: {carb: 4.5, correction: 1, net: 5},
    };
    if (day % 2 === 0) {
      wizard.bolus = {type: 'bolus', subType: 'normal', normal: 5};
    }
    add(datum('wizard', midnight + 8 * HOUR + 35 * MINUTE, wizard));

    // food: lunch and dinner.
    add(
      datum('food', midnight + 12 * HOUR, {
        meal: 'lunch',
        name: 'Pasta',
        nutrition: {carbohydrate: {net: 60, units: 'grams'}},
      })
    );
    add(
      datum('food', midnight + 19 * HOUR, {
        meal: 'dinner',
        name: 'Rice',
        nutrition: {carbohydrate: {net: 45, units: 'grams'}},
      })
    );

    // deviceEvent: every other day a site change (reservoir, prime), an alarm and a calibration.
    if (day % 2 === 0) {
      add(datum('deviceEvent', midnight + 9 * HOUR, {subType: 'reservoirChange'}));
      add(datum('deviceEvent', midnight + 9 * HOUR + MINUTE, {subType: 'prime', primeTarget: 'cannula', volume: 0.3}));
      add(datum('deviceEvent', midnight + 10 * HOUR, {subType: 'alarm', alarmType: day % 4 ? 'low_insulin' : 'occlusion'}));
      add(datum('deviceEvent', midnight + 11 * HOUR, {subType: 'calibration', units: 'mg/dL', value: 110 + day}));
    }
    if (day % 3 === 0) {
      add(
        datum('deviceEvent', midnight + 14 * HOUR, {
          subType: 'status',
          status: 'suspended',
          reason: {suspended: 'manual'},
          duration: 15 * MINUTE,
        })
      );
    }

    // pumpSettings: the settings snapshot the pump reports on days 0 and 5.
    if (day % 5 === 0) {
      add(
        datum('pumpSettings', midnight + 30 * MINUTE, {
          activeSchedule: 'Standard',
          units: {bg: 'mg/dL', carb: 'grams'},
          basalSchedules: {Standard: [{start: 0, rate: 0.8}, {start: 6 * HOUR, rate: 1.1}]},
          carbRatios: {Standard: [{start: 0, amount: 10}]},
          insulinSensitivities: {Standard: [{start: 0, amount: 50}]},
          bgTargets: {Standard: [{start: 0, low: 90, high: 140}]},
        })
      );
    }
  }

  // What the server stores: the upload, plus each wizard's embedded bolus as a datum of its own.
  const stored = data.concat(
    data.filter((d) => d.type === 'wizard' && d.bolus).map((w) => ({...w.bolus, time: w.time, deviceId: w.deviceId}))
  );
  const counts = {};
  const subTypes = {};
  for (const d of stored) {
    counts[d.type] = (counts[d.type] || 0) + 1;
    const sub = d.subType || d.deliveryType;
    if (sub) {
      subTypes[`${d.type}/${sub}`] = (subTypes[`${d.type}/${sub}`] || 0) + 1;
    }
  }
  return {data, stored, expected: {counts, subTypes, total: stored.length}};
}

module.exports = {DEVICE, KNOWN_CONVERSIONS, TIMEZONE, buildUpload, dataSetInfo, toMmol};

if (require.main === module) {
  const upload = buildUpload();
  process.stdout.write(JSON.stringify({dataSet: dataSetInfo('0123456789'), ...upload}) + '\n');
}
