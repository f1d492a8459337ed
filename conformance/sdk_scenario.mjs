// Runs the official Wix JS SDK against the local Wix sandbox and prints one JSON document:
//   {"inputs": {...what was sent...}, "steps": {"<name>": {"ok": true, "value": ...} | {"ok": false, "error": {...}}}}
// Dates in SDK return values are printed as {"$date": "<ISO>"} so the caller can tell them from strings.
// Environment: SANDBOX_URL (e.g. http://127.0.0.1:8000/wix-sandbox), WIX_API_KEY, WIX_SITE_ID,
// CONFORMANCE_EMAIL. Driven by tests/test_conformance.py; see /work/shared/wix/sdk-contract.md §6
// and, for the media steps, /work/shared/wix/media-upload.md §3 and §6.
import { randomUUID } from 'node:crypto';
import { ApiKeyStrategy, createClient } from '@wix/sdk';
import * as contacts from '@wix/auto_sdk_crm_contacts';
import * as conversations from '@wix/auto_sdk_inbox_conversations';
import * as messages from '@wix/auto_sdk_inbox_messages';
import { communicationChannelsMedia as media } from '@wix/comm-channels-media';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
};
const SANDBOX_URL = env('SANDBOX_URL').replace(/\/+$/, '');
const API_KEY = env('WIX_API_KEY');
const SITE_ID = env('WIX_SITE_ID');
const EMAIL = env('CONFORMANCE_EMAIL');

// sdk-contract §6: keep the SDK's own host, swap the origin https://www.wixapis.com for the sandbox.
const realFetch = globalThis.fetch;
const sandboxFetch = (input, init) => {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input.toString() : input.url);
  return realFetch(SANDBOX_URL + url.pathname + url.search, init);
};
globalThis.fetch = sandboxFetch;

const newClient = (apiKey) =>
  createClient({
    auth: ApiKeyStrategy({ apiKey, siteId: SITE_ID }),
    modules: { contacts, conversations, messages, media },
    fetch: sandboxFetch,
  });

const formMessage = (fields) => ({
  direction: 'PARTICIPANT_TO_BUSINESS',
  visibility: 'BUSINESS',
  content: {
    previewText: 'New form submission from Jane Doe',
    form: { title: 'Contact form submission', description: 'Sent by the conformance test', fields },
  },
});

const inputs = {
  email: EMAIL,
  contactInfo: {
    name: { first: 'Jane', last: 'Doe' },
    emails: { items: [{ tag: 'MAIN', email: EMAIL, primary: true }] },
    phones: { items: [{ tag: 'MOBILE', phone: '+15555550100' }] },
  },
  formMessage: formMessage([
    { name: 'Name', value: 'Jane Doe' },
    { name: 'Email', value: EMAIL },
    { name: 'Message', value: 'Hello, I would like a quote.' },
    { name: 'Reference', value: randomUUID() },
  ]),
  oversizedMessage: formMessage(
    Array.from({ length: 16 }, (_, i) => ({ name: `Field ${i + 1}`, value: `value ${i + 1}` })),
  ),
  unknownConversationId: randomUUID(),
  wrongApiKey: 'IST.wrong-api-key',
  // Two files, as a visitor's form would bring them: a PDF and a 3×2 PNG (bytes in base64).
  pdf: {
    fileName: 'cv.pdf',
    mimeType: 'application/pdf',
    base64: Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n').toString('base64'),
  },
  png: {
    fileName: 'shot & plan?.png',
    mimeType: 'image/png',
    base64: 'iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAIAAAASFvFNAAAAFUlEQVR4nGMUzP3PwMDAwMDAxAADABoYAYGdFPK+AAAAAElFTkSuQmCC',
    width: 3,
    height: 2,
  },
  unsupportedFile: { fileName: 'setup.exe', mimeType: 'application/x-msdownload' },
  mediaMessage: formMessage([
    { name: 'Name', value: 'Jane Doe' },
    { name: 'Attachments', value: 'cv.pdf, shot & plan?.png' },
    { name: 'Reference', value: randomUUID() },
  ]),
};
// The SDK renames keys in its arguments in place: hand it copies, keep `inputs` as written.
const copy = (value) => structuredClone(value);

const steps = {};
const step = async (name, call) => {
  try {
    steps[name] = { ok: true, value: await call() };
  } catch (e) {
    steps[name] = {
      ok: false,
      error: { status: e.status, details: e.details, requestId: e.requestId, message: String(e.message) },
    };
  }
  return steps[name].value;
};

const client = newClient(API_KEY);

// a-b: contact
const created = await step('createContact', () =>
  client.contacts.createContact(copy(inputs.contactInfo), { allowDuplicates: false }),
);
const contactId = created?.contact?._id;
await step('queryContacts', () =>
  client.contacts.queryContacts({ filter: { 'info.emails.email': { $eq: EMAIL } }, paging: { limit: 1 } }),
);

// c: conversation, twice
const first = await step('getOrCreateConversation1', () =>
  client.conversations.getOrCreateConversation({ contactId }),
);
await step('getOrCreateConversation2', () => client.conversations.getOrCreateConversation({ contactId }));
const conversationId = first?.conversation?._id;

// d-f: message, list it (plain query, then the `.r` form), read the conversation
await step('sendMessage', () =>
  client.messages.sendMessage(conversationId, copy(inputs.formMessage), {
    sendNotifications: true,
    sendAs: 'PARTICIPANT',
  }),
);
await step('listMessagesPlain', () => client.messages.listMessages(conversationId, 'BUSINESS'));
await step('listMessagesPaged', () =>
  client.messages.listMessages(conversationId, 'BUSINESS', {
    paging: { limit: 10 },
    sorting: { fieldName: 'sequence', order: 'DESC' },
  }),
);
await step('getConversation', () => client.conversations.getConversation(conversationId));

// g: failures
await step('sendOversizedMessage', () =>
  client.messages.sendMessage(conversationId, copy(inputs.oversizedMessage), {
    sendNotifications: true,
    sendAs: 'PARTICIPANT',
  }),
);
await step('wrongApiKey', () => newClient(inputs.wrongApiKey).conversations.getConversation(conversationId));
await step('getUnknownConversation', () =>
  client.conversations.getConversation(inputs.unknownConversationId),
);
await step('sendToUnknownConversation', () =>
  client.messages.sendMessage(inputs.unknownConversationId, copy(inputs.formMessage), {
    sendNotifications: true,
    sendAs: 'PARTICIPANT',
  }),
);
await step('createDuplicateContact', () =>
  client.contacts.createContact(copy(inputs.contactInfo), { allowDuplicates: false }),
);

// h: files. The SDK asks for an upload URL; it has no upload helper, so the bytes go with plain
// fetch, as Wix's Upload API describes: PUT <uploadUrl>?filename=<name>, the type in Content-Type,
// the raw bytes, no credentials. The upload URL is the sandbox's own: no origin to rewrite.
const upload = async (file) => {
  const { uploadUrl } = await step(`generateUploadUrl:${file.fileName}`, () =>
    client.media.generateFileUploadUrl({ fileName: file.fileName, mimeType: file.mimeType }),
  );
  return step(`upload:${file.fileName}`, async () => {
    const url = new URL(uploadUrl);
    url.searchParams.set('filename', file.fileName);
    const response = await realFetch(url, {
      method: 'PUT',
      headers: { 'Content-Type': file.mimeType },
      body: Buffer.from(file.base64, 'base64'),
    });
    const body = await response.json();
    if (response.status !== 200) throw Object.assign(new Error(body.message), { status: response.status, details: body.details });
    return body.file;
  });
};
const pdf = await upload(inputs.pdf);
const png = await upload(inputs.png);
const pngImage = png?.media?.image?.image ?? {};
await step('sendMessageWithMedia', () => {
  const message = copy(inputs.mediaMessage);
  message.content.form.media = [
    { file: { _id: pdf?.id, url: pdf?.url, filename: inputs.pdf.fileName, mimeType: inputs.pdf.mimeType } },
    {
      image: { _id: png?.id, url: png?.url, filename: inputs.png.fileName, width: pngImage.width, height: pngImage.height },
    },
  ];
  return client.messages.sendMessage(conversationId, message, { sendNotifications: true, sendAs: 'PARTICIPANT' });
});
await step('generateUploadUrlUnsupported', () => client.media.generateFileUploadUrl(copy(inputs.unsupportedFile)));
// Calls Inbox Intake's client does not make (the SDK side only): they come last.
await step('getStorageQuota', () => client.media.getStorageQuota());
await step('generateFileDownloadUrl', () =>
  client.media.generateFileDownloadUrl(pdf?.id, { downloadFileName: 'Jane Doe CV.pdf' }),
);

function markDates(key, value) {
  const raw = this[key];
  if (!(raw instanceof Date)) return value;
  return { $date: Number.isNaN(raw.getTime()) ? 'Invalid Date' : raw.toISOString() };
}
process.stdout.write(`${JSON.stringify({ inputs, steps }, markDates)}\n`);
