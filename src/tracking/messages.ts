import { pickLanguage } from "../recipients/language";

/** Every string the public pages show, per language. Plain text: the pages escape it. */
export interface Messages {
  lang: string;
  confirmTitle: string;
  confirmHeading: (scenario: string) => string;
  confirmBody: string;
  confirmButton: string;
  doneTitle: string;
  doneBody: (scenario: string) => string;
  notFoundTitle: string;
  notFoundBody: string;
  errorTitle: string;
  errorBody: string;
  prefsTitle: string;
  prefsBody: string;
  prefsNoTopics: string;
  prefsSave: string;
  prefsAll: string;
  prefsSaved: string;
}

const en: Messages = {
  lang: "en",
  confirmTitle: "Unsubscribe",
  confirmHeading: (s) => `Unsubscribe from “${s}”?`,
  confirmBody: "Confirm and you will no longer receive these e-mails.",
  confirmButton: "Unsubscribe",
  doneTitle: "You are unsubscribed",
  doneBody: (s) => `You will no longer receive e-mails from “${s}”.`,
  notFoundTitle: "Link not found",
  notFoundBody: "This link is not valid. Please check that you copied it entirely.",
  errorTitle: "Something went wrong",
  errorBody: "We could not process your request. Please try again in a moment.",
  prefsTitle: "Your e-mail preferences",
  prefsBody: "Choose the e-mails you want to receive. Untick a topic to stop it.",
  prefsNoTopics: "There is nothing to choose from yet.",
  prefsSave: "Save my choices",
  prefsAll: "Unsubscribe from all topics",
  prefsSaved: "Your choices are saved.",
};

const fr: Messages = {
  lang: "fr",
  confirmTitle: "Se désabonner",
  confirmHeading: (s) => `Se désabonner de « ${s} » ?`,
  confirmBody: "Confirmez et vous ne recevrez plus ces e-mails.",
  confirmButton: "Se désabonner",
  doneTitle: "Vous êtes désabonné",
  doneBody: (s) => `Vous ne recevrez plus d’e-mails de « ${s} ».`,
  notFoundTitle: "Lien introuvable",
  notFoundBody: "Ce lien n’est pas valide. Vérifiez que vous l’avez copié en entier.",
  errorTitle: "Une erreur est survenue",
  errorBody: "Votre demande n’a pas pu être traitée. Veuillez réessayer dans un instant.",
  prefsTitle: "Vos préférences d’e-mails",
  prefsBody: "Choisissez les e-mails que vous souhaitez recevoir. Décochez un thème pour ne plus le recevoir.",
  prefsNoTopics: "Il n’y a encore rien à choisir.",
  prefsSave: "Enregistrer mes choix",
  prefsAll: "Me désabonner de tous les thèmes",
  prefsSaved: "Vos choix sont enregistrés.",
};

const de: Messages = {
  lang: "de",
  confirmTitle: "Abmelden",
  confirmHeading: (s) => `Von „${s}“ abmelden?`,
  confirmBody: "Bestätigen Sie, und Sie erhalten diese E-Mails nicht mehr.",
  confirmButton: "Abmelden",
  doneTitle: "Sie sind abgemeldet",
  doneBody: (s) => `Sie erhalten keine E-Mails mehr von „${s}“.`,
  notFoundTitle: "Link nicht gefunden",
  notFoundBody: "Dieser Link ist ungültig. Bitte prüfen Sie, ob Sie ihn vollständig kopiert haben.",
  errorTitle: "Etwas ist schiefgelaufen",
  errorBody: "Ihre Anfrage konnte nicht bearbeitet werden. Bitte versuchen Sie es gleich noch einmal.",
  prefsTitle: "Ihre E-Mail-Einstellungen",
  prefsBody: "Wählen Sie, welche E-Mails Sie erhalten möchten. Entfernen Sie ein Häkchen, um ein Thema abzubestellen.",
  prefsNoTopics: "Es gibt noch nichts auszuwählen.",
  prefsSave: "Auswahl speichern",
  prefsAll: "Von allen Themen abmelden",
  prefsSaved: "Ihre Auswahl ist gespeichert.",
};

const es: Messages = {
  lang: "es",
  confirmTitle: "Darse de baja",
  confirmHeading: (s) => `¿Darse de baja de «${s}»?`,
  confirmBody: "Confirme y dejará de recibir estos correos.",
  confirmButton: "Darse de baja",
  doneTitle: "Se ha dado de baja",
  doneBody: (s) => `Ya no recibirá correos de «${s}».`,
  notFoundTitle: "Enlace no encontrado",
  notFoundBody: "Este enlace no es válido. Compruebe que lo ha copiado entero.",
  errorTitle: "Se ha producido un error",
  errorBody: "No hemos podido procesar su solicitud. Vuelva a intentarlo en un momento.",
  prefsTitle: "Sus preferencias de correo",
  prefsBody: "Elija los correos que desea recibir. Desmarque un tema para dejar de recibirlo.",
  prefsNoTopics: "Todavía no hay nada que elegir.",
  prefsSave: "Guardar mis preferencias",
  prefsAll: "Darme de baja de todos los temas",
  prefsSaved: "Sus preferencias se han guardado.",
};

const CATALOGUE: Record<string, Messages> = { en, fr, de, es };

/**
 * The messages in a party's language, by the same fallback chain as e-mail content (`fr`, `fr_FR`, `fr-FR` are French);
 * English when unknown or not given.
 */
export function messagesFor(lang: unknown): Messages {
  const picked = pickLanguage(lang, Object.keys(CATALOGUE));
  return picked ? (CATALOGUE[picked] as Messages) : en;
}
