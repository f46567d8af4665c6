import { createMimeMessage, Mailbox, type MIMEMessage } from "mimetext/browser";
import type { Address } from "../env";
import { encodeMailbox, encodeUnstructured, rfc5322Date } from "./headers";
import { quotedPrintable } from "./qp";

export interface MimeInput {
  from: Address;
  to: Address;
  replyTo: Address | null;
  subject: string;
  html: string;
  text: string;
  messageId: string;
  /** Milliseconds since the epoch, for the Date header. */
  date: number;
  /** More headers, already valid header values (List-Unsubscribe…). */
  headers: Record<string, string>;
}

/**
 * The raw RFC 5322 message: multipart/alternative with a text and an HTML part, both UTF-8 in quoted-printable.
 * mimetext builds the structure; its browser build is used because it ends lines with CRLF (the Node build uses the
 * platform's EOL). Its header encoders are replaced by ours, which leave plain ASCII readable and fold long subjects.
 */
export function buildMime(m: MimeInput): string {
  const msg = createMimeMessage();
  useOurHeaderEncoding(msg);
  msg.setSender(mailbox(m.from, "From"));
  msg.setTo(mailbox(m.to, "To"));
  if (m.replyTo) msg.setHeader("Reply-To", new Mailbox(mailbox(m.replyTo, "From")));
  msg.setSubject(m.subject);
  msg.setHeader("Date", rfc5322Date(m.date));
  msg.setHeader("Message-ID", m.messageId);
  for (const [name, value] of Object.entries(m.headers)) msg.setHeader(name, value);
  msg.addMessage({ contentType: "text/plain", encoding: "quoted-printable", data: quotedPrintable(m.text) });
  msg.addMessage({ contentType: "text/html", encoding: "quoted-printable", data: quotedPrintable(m.html) });
  return msg.asRaw();
}

function mailbox(a: Address, type: "From" | "To") {
  return { addr: a.address, name: a.name ?? "", type };
}

function useOurHeaderEncoding(msg: MIMEMessage) {
  for (const field of msg.headers.fields) {
    if (field.name === "Subject") {
      field.dump = (v) => (typeof v === "string" ? encodeUnstructured("Subject", v) : "");
    } else if (field.name === "From" || field.name === "To" || field.name === "Reply-To") {
      field.dump = (v) => {
        const boxes = Array.isArray(v) ? v : v instanceof Mailbox ? [v] : [];
        return boxes.map((b) => encodeMailbox({ name: b.name || null, address: b.addr })).join(",\r\n ");
      };
    }
  }
}
