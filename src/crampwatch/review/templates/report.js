(function () {
  var errors = [];
  window.addEventListener('error', function (e) {
    var t = e.target;
    if (t && t !== window && t.tagName) {
      errors.push('resource ' + t.tagName + ' ' + (t.src || t.href || ''));
    } else {
      errors.push('script ' + e.message);
    }
  }, true);
  document.addEventListener('securitypolicyviolation', function (e) {
    errors.push('csp ' + e.blockedURI);
  });
  var orig = console.error;
  console.error = function () {
    errors.push('console ' + Array.prototype.join.call(arguments, ' '));
    return orig.apply(console, arguments);
  };
  window.addEventListener('load', function () {
    var imgs = document.images, ok = 0;
    for (var i = 0; i < imgs.length; i++) {
      if (imgs[i].complete && imgs[i].naturalWidth > 0 && imgs[i].naturalHeight > 0) ok++;
    }
    var b = document.body;
    b.setAttribute('data-images-total', String(imgs.length));
    b.setAttribute('data-images-ok', String(ok));
    b.setAttribute('data-errors', JSON.stringify(errors));
    b.setAttribute('data-checked', 'yes');
  });
})();
