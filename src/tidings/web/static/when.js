/* Dates in the reader's own time zone and language: "5 min ago", "3 hr ago", "yesterday", then the date, with the
   exact local time on hover. Each <time data-when> already reads right without this script: the server wrote the
   date and time (in TIDINGS_TIMEZONE) as its text, and an ISO time in its datetime attribute. A date without a
   time (data-when="date") stays that date, in every zone; where the hour matters (a story's timeline,
   data-detail="time") an older time keeps its hour beside its date. The text is brought up to date every minute. */
(function () {
  "use strict";
  var MINUTE = 60e3, HOUR = 60 * MINUTE, DAY = 24 * HOUR;
  var relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });
  var exact = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });
  var sameYear = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
  var otherYear = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric" });
  var withHour = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  // A date is kept at midnight UTC: shown in UTC, it is the same day wherever the reader is.
  var date = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" });
  var fullDate = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeZone: "UTC" });

  function midnight(t) {
    return new Date(t.getFullYear(), t.getMonth(), t.getDate()).getTime();
  }

  function ago(then, now, hour) {
    var gone = now - then;
    var days = Math.round((midnight(now) - midnight(then)) / DAY);  // calendar days here (a DST day is 23 or 25 h)
    if (Math.abs(gone) < MINUTE) return relative.format(0, "second");  // "now"
    if (Math.abs(gone) < HOUR) return relative.format(-Math.trunc(gone / MINUTE), "minute");
    if (days === 0 || Math.abs(gone) < 6 * HOUR) return relative.format(-Math.trunc(gone / HOUR), "hour");
    if (hour) return withHour.format(then);
    if (Math.abs(days) === 1) return relative.format(-days, "day");  // "yesterday", "tomorrow"
    return (then.getFullYear() === now.getFullYear() ? sameYear : otherYear).format(then);
  }

  function show(el, now) {
    var value = el.getAttribute("datetime") || "";
    var dateOnly = el.getAttribute("data-when") === "date";
    var then = new Date(dateOnly ? value + "T00:00:00Z" : value);
    if (isNaN(then.getTime())) return;  // the server's text stays
    el.textContent = dateOnly ? date.format(then) : ago(then, now, el.getAttribute("data-detail") === "time");
    el.title = dateOnly ? fullDate.format(then) : exact.format(then);
  }

  function update() {
    var now = new Date();
    var all = document.querySelectorAll("time[data-when]");
    for (var i = 0; i < all.length; i++) show(all[i], now);
  }

  update();
  setInterval(update, MINUTE);
})();
