// Message times and day separators with a fixed clock, locale and time zone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dayKey, dayLabel, daysBefore, messageTime } from '../src/format.js';

const NOW = Date.UTC(2026, 11, 6, 9, 30); // Sunday 6 December 2026, 09:30 UTC
const at = (y, mo, d, h, mi) => Date.UTC(y, mo - 1, d, h, mi);

test('today shows the time of day; earlier days show the date; another year shows the year', () => {
  const utcUs = { locale: 'en-US', timeZone: 'UTC' };
  assert.equal(messageTime(at(2026, 12, 6, 8, 5), NOW, utcUs), '8:05 AM');
  assert.equal(messageTime(at(2026, 12, 5, 23, 59), NOW, utcUs), 'Dec 5, 11:59 PM');
  assert.equal(messageTime(at(2026, 3, 1, 14, 0), NOW, utcUs), 'Mar 1, 2:00 PM');
  assert.equal(messageTime(at(2025, 12, 31, 14, 0), NOW, utcUs), 'Dec 31, 2025, 2:00 PM');
  const utcDe = { locale: 'de-DE', timeZone: 'UTC' };
  assert.equal(messageTime(at(2026, 12, 6, 8, 5), NOW, utcDe), '8:05');
  assert.equal(messageTime(at(2026, 12, 5, 23, 59), NOW, utcDe), '5. Dez., 23:59');
});

test('days are calendar days in the zone, not 24-hour spans', () => {
  // 23:59 UTC yesterday is already today in Tokyo (UTC+9), and 00:30 UTC today is still yesterday in New York
  assert.equal(daysBefore(at(2026, 12, 5, 23, 59), NOW, { timeZone: 'UTC' }), 1);
  assert.equal(daysBefore(at(2026, 12, 5, 23, 59), NOW, { timeZone: 'Asia/Tokyo' }), 0);
  assert.equal(daysBefore(at(2026, 12, 6, 0, 30), NOW, { timeZone: 'America/New_York' }), 1);
  assert.equal(dayKey(at(2026, 12, 6, 0, 30), { timeZone: 'America/New_York' }), '2026-12-05');
  assert.equal(messageTime(at(2026, 12, 5, 23, 59), NOW, { locale: 'en-US', timeZone: 'Asia/Tokyo' }), '8:59 AM');
});

test('day separators: Today, Yesterday, then the full date, in the locale', () => {
  const utcUs = { locale: 'en-US', timeZone: 'UTC' };
  assert.equal(dayLabel(at(2026, 12, 6, 1, 0), NOW, utcUs), 'Today');
  assert.equal(dayLabel(at(2026, 12, 5, 1, 0), NOW, utcUs), 'Yesterday');
  assert.equal(dayLabel(at(2026, 12, 3, 1, 0), NOW, utcUs), 'Thursday, December 3, 2026');
  const utcFr = { locale: 'fr-FR', timeZone: 'UTC' };
  assert.equal(dayLabel(at(2026, 12, 5, 1, 0), NOW, utcFr), 'Hier');
  assert.equal(dayLabel(at(2026, 12, 3, 1, 0), NOW, utcFr), 'jeudi 3 décembre 2026');
});
