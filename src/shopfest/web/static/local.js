// "Near me": where the browser may tell its location, a button asks for it, fills the form's lat/lng
// and sends it; without a script (or when refused) the city picker does the same job.
(function () {
  "use strict";
  var form = document.querySelector("[data-near-form]");
  if (!form || !("geolocation" in navigator)) return;
  var box = form.querySelector("[data-locate]");
  var button = form.querySelector("[data-locate-button]");
  var said = form.querySelector("[data-locate-said]");
  var city = form.querySelector("[data-city]");
  box.hidden = false;
  button.addEventListener("click", function () {
    said.textContent = form.dataset.locating || "";
    navigator.geolocation.getCurrentPosition(function (where) {
      form.querySelector("[data-lat]").value = where.coords.latitude.toFixed(6);
      form.querySelector("[data-lng]").value = where.coords.longitude.toFixed(6);
      city.value = "";
      form.submit();
    }, function () {
      said.textContent = form.dataset.refused || "";
    }, {timeout: 10000, maximumAge: 60000});
  });
  // A city picked by hand wins over a location found earlier.
  city.addEventListener("change", function () {
    form.querySelector("[data-lat]").value = "";
    form.querySelector("[data-lng]").value = "";
  });
})();
