/* The customer record beside a Freshdesk ticket (FDK platform 3.0, ticket_sidebar).
 *
 * Reads the ticket and its contact (emails, phones, X handle `twitter_id`, Facebook id
 * `facebook_id`, the brand's own customer number `unique_external_id`) through the data
 * method, asks the connector server for the record through the `connectorSidebar` request
 * template (the template adds the app token, a secure installation parameter the browser
 * never sees), and shows the answer's HTML fragment in a sandboxed frame where no script runs.
 */
(function () {
  "use strict";

  var TEMPLATE = "connectorSidebar";
  var MAX_HEIGHT = 700;
  var WORDS = {
    en: {
      loading: "Looking the customer up…",
      denied: "The connector refused this app's token: check the app's settings.",
      failed: "The customer record is unavailable right now."
    },
    fr: {
      loading: "Recherche du client…",
      denied: "Le connecteur refuse le jeton de l'application : vérifiez ses paramètres.",
      failed: "La fiche client est indisponible pour le moment."
    }
  };

  function words(lang) {
    return WORDS[lang] || WORDS.en;
  }

  function present(values) {
    return values.filter(function (value) {
      return typeof value === "string" && value.trim() !== "";
    });
  }

  // a contact field as a list of text (Freshdesk ids may come as numbers)
  function field(value) {
    return present([typeof value === "number" ? String(value) : value]);
  }

  function question(ticket, contact, user) {
    var language = (user && user.contact && user.contact.language) || "";
    return {
      ticket_id: ticket.id ? String(ticket.id) : "",
      emails: present([contact.email].concat(contact.other_emails || [])),
      phones: present([contact.phone, contact.mobile]),
      twitter_id: field(contact.twitter_id),
      facebook_id: field(contact.facebook_id),
      unique_external_id: field(contact.unique_external_id),
      lang: language.slice(0, 2)
    };
  }

  async function context(client) {
    var ticket = await client.data.get("ticket");
    var contact = await client.data.get("contact");
    var user = await client.data.get("loggedInUser").catch(function () {
      return {};
    });
    return question(ticket.ticket || {}, contact.contact || {}, user.loggedInUser);
  }

  function status(text) {
    var box = document.getElementById("status");
    box.textContent = text;
    box.hidden = text === "";
  }

  function frameDocument(html, lang) {
    var css = new URL("styles/record.css", document.baseURI).href;
    return "<!DOCTYPE html><html lang=\"" + (lang === "fr" ? "fr" : "en") + "\"><head>" +
      "<meta charset=\"utf-8\"><link rel=\"stylesheet\" href=\"" + css + "\">" +
      "<base target=\"_blank\"></head><body>" + html + "</body></html>";
  }

  function fit(client, frame) {
    var page = frame.contentDocument && frame.contentDocument.documentElement;
    var height = Math.min(page ? page.scrollHeight : MAX_HEIGHT, MAX_HEIGHT);
    frame.style.height = height + "px";
    client.instance.resize({ height: height + "px" });
  }

  function show(client, record, lang) {
    var frame = document.getElementById("record");
    frame.onload = function () {
      fit(client, frame);
    };
    frame.srcdoc = frameDocument(record.html, lang);
    frame.hidden = false;
    status("");
  }

  async function render(client) {
    var asked = await context(client);
    var say = words(asked.lang);
    status(say.loading);
    try {
      var reply = await client.request.invokeTemplate(TEMPLATE, {
        body: JSON.stringify(asked)
      });
      show(client, JSON.parse(reply.response), asked.lang);
    } catch (error) {
      status(error && error.status === 401 ? say.denied : say.failed);
    }
  }

  app.initialized().then(function (client) {
    client.events.on("app.activated", function () {
      render(client);
    });
  });
})();
