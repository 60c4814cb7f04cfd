/*
 * Dev signing page of signflow: calls the same /api/v1 routes as a real portal, with the dev portal token.
 * On a narrow viewport the signature is drawn on a canvas (pointer events: finger, pen or mouse) and sent as PNG;
 * on a wide one it is a click signature.
 */
(function () {
  'use strict';
  var body = document.body;
  var apiBase = body.dataset.apiBase;
  var token = body.dataset.portalToken;
  var meldung = document.getElementById('meldung');
  var NARROW = '(max-width: 640px)';

  function show(text, kind) {
    meldung.textContent = text;
    meldung.className = kind || '';
  }

  function api(method, path, payload) {
    return fetch(apiBase + path, {
      method: method,
      headers: Object.assign(
        { authorization: 'Bearer ' + token, accept: 'application/json' },
        payload === undefined ? {} : { 'content-type': 'application/json' }
      ),
      body: payload === undefined ? undefined : JSON.stringify(payload),
    }).then(function (res) {
      return res.json().then(function (json) {
        if (!res.ok) throw new Error(json.message || 'Fehler ' + res.status);
        return json;
      });
    });
  }

  function formatTime(iso) {
    return new Date(iso).toLocaleString('de-DE', { dateStyle: 'medium', timeStyle: 'short' });
  }

  /** A white canvas that records strokes from pointer events. */
  function signaturePad(canvas) {
    var ctx = canvas.getContext('2d');
    var drawing = false;
    var strokes = 0;

    function clear() {
      var ratio = window.devicePixelRatio || 1;
      canvas.width = Math.max(1, Math.round(canvas.clientWidth * ratio));
      canvas.height = Math.max(1, Math.round(canvas.clientHeight * ratio));
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.lineWidth = 2.5;
      ctx.lineCap = 'round';
      ctx.lineJoin = 'round';
      ctx.strokeStyle = '#0b1f3a';
      strokes = 0;
      canvas.dataset.strokes = '0';
    }

    function point(e) {
      var r = canvas.getBoundingClientRect();
      return { x: e.clientX - r.left, y: e.clientY - r.top };
    }

    canvas.addEventListener('pointerdown', function (e) {
      e.preventDefault();
      canvas.setPointerCapture(e.pointerId);
      drawing = true;
      var p = point(e);
      ctx.beginPath();
      ctx.moveTo(p.x, p.y);
    });
    canvas.addEventListener('pointermove', function (e) {
      if (!drawing) return;
      var p = point(e);
      ctx.lineTo(p.x, p.y);
      ctx.stroke();
    });
    function end(e) {
      if (!drawing) return;
      drawing = false;
      strokes += 1;
      canvas.releasePointerCapture(e.pointerId);
      canvas.dataset.strokes = String(strokes);
    }
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);

    clear();
    return {
      clear: clear,
      strokes: function () {
        return strokes;
      },
      png: function () {
        return canvas.toDataURL('image/png');
      },
    };
  }

  function documentPage() {
    var form = document.getElementById('unterschrift');
    if (!form) return;
    var consent = document.getElementById('consent');
    var button = document.getElementById('sign');
    var canvas = document.getElementById('signature-pad');
    var pad = null;
    function ensurePad() {
      if (!pad && window.matchMedia(NARROW).matches) pad = signaturePad(canvas);
      return pad;
    }
    ensurePad();
    window.matchMedia(NARROW).addEventListener('change', ensurePad);
    document.getElementById('pad-reset').addEventListener('click', function () {
      if (pad) pad.clear();
    });
    consent.addEventListener('change', function () {
      button.disabled = !consent.checked;
    });
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      if (!consent.checked) return show('Bitte bestätigen Sie „Dieses Dokument unterzeichnen“.', 'fehler');
      var drawn = window.matchMedia(NARROW).matches && ensurePad();
      var payload = { contactId: Number(body.dataset.contactId), method: drawn ? 'drawn' : 'click' };
      if (drawn) payload.imagePngBase64 = pad.png();
      button.disabled = true;
      show('Unterschrift wird gesetzt …');
      api('POST', '/contracts/' + body.dataset.contractId + '/signature', payload).then(
        function (outcome) {
          form.hidden = true;
          document.getElementById('unterschrift-status').textContent = 'gültig';
          show('Vielen Dank! Unterschrift gesetzt am ' + formatTime(outcome.confirmedAt) + '.', 'ok');
        },
        function (err) {
          button.disabled = !consent.checked;
          show('Die Unterschrift wurde nicht angenommen: ' + err.message, 'fehler');
        }
      );
    });
  }

  function pendingPage() {
    var list = document.getElementById('ausstehend');
    api('GET', '/contacts/' + body.dataset.contactId + '/pending-signatures').then(
      function (result) {
        list.textContent = '';
        list.removeAttribute('aria-busy');
        if (result.items.length === 0) {
          var empty = document.createElement('li');
          empty.className = 'leer';
          empty.textContent = 'Keine ausstehenden Unterschriften.';
          list.appendChild(empty);
          return;
        }
        result.items.forEach(function (item) {
          var li = document.createElement('li');
          var a = document.createElement('a');
          a.href = '/portal/dokumente/' + item.documentId;
          a.textContent = item.documentTitle || item.contractTitle || 'Dokument ' + item.documentId;
          li.appendChild(a);
          if (item.requestedAt) li.appendChild(document.createTextNode(' – seit ' + formatTime(item.requestedAt)));
          list.appendChild(li);
        });
      },
      function (err) {
        list.removeAttribute('aria-busy');
        show('Die Liste konnte nicht geladen werden: ' + err.message, 'fehler');
      }
    );
  }

  if (body.dataset.page === 'document') {
    // The portal tells the API that the contact opened the document (contract.viewed, audit trail). A finished
    // contract's document may still be opened; that view is not recorded, and the page does not mind.
    api('POST', '/contracts/' + body.dataset.contractId + '/views', {
      contactId: Number(body.dataset.contactId),
      userAgent: navigator.userAgent.slice(0, 512),
    }).catch(function () {});
    documentPage();
  }
  if (body.dataset.page === 'pending') pendingPage();
})();
