import type { FailureKind } from '../services/onboarding/connect-links.service';

/** Every string of the public connect pages: Vietnamese by default, English with `?lang=en`. */
export type Lang = 'vi' | 'en';

interface Catalogue {
  title: string;
  openIntro: (unit: string) => string;
  loginButton: string;
  expires: (at: string) => string;
  pickTitle: string;
  pickIntro: (unit: string) => string;
  confirmIntro: (unit: string) => string;
  confirmButton: string;
  pickButton: string;
  noCreateContent: string;
  doneTitle: string;
  done: (page: string, unit: string) => string;
  doneNeedsReauth: string;
  failureTitle: string;
  otherLang: string;
  failures: Record<FailureKind, { what: string; todo: string }>;
}

const askNewLink = { vi: 'Hãy xin quản trị viên một liên kết mới.', en: 'Ask your administrator for a new link.' };
const reopen = {
  vi: 'Hãy mở lại liên kết bạn đã nhận và đăng nhập lại.',
  en: 'Open the link you received again and log in once more.',
};

export const MESSAGES: Record<Lang, Catalogue> = {
  vi: {
    title: 'Kết nối Trang Facebook',
    openIntro: (u) => `Liên kết này dùng để kết nối Trang Facebook của đơn vị ${u} với Lan Tỏa.`,
    loginButton: 'Đăng nhập Facebook',
    expires: (at) => `Liên kết dùng được một lần, hết hạn lúc ${at} (UTC).`,
    pickTitle: 'Chọn Trang',
    pickIntro: (u) => `Chọn Trang Facebook của đơn vị ${u}:`,
    confirmIntro: (u) => `Kết nối Trang này với đơn vị ${u}?`,
    confirmButton: 'Xác nhận',
    pickButton: 'Kết nối Trang đã chọn',
    noCreateContent: '(bạn chưa có quyền tạo nội dung trên Trang này)',
    doneTitle: 'Đã kết nối',
    done: (p, u) => `Trang “${p}” đã được kết nối với đơn vị ${u}.`,
    doneNeedsReauth:
      'Tài khoản của bạn chưa có quyền tạo nội dung (CREATE_CONTENT) trên Trang này nên chưa thể đăng bài. Hãy nhờ quản trị viên Trang cấp quyền rồi mở một liên kết mới.',
    failureTitle: 'Không thể kết nối',
    otherLang: 'English',
    failures: {
      not_configured: { what: 'Chức năng kết nối chưa được cấu hình.', todo: 'Hãy báo cho quản trị viên hệ thống.' },
      unknown_link: { what: 'Liên kết không tồn tại.', todo: `Hãy kiểm tra lại địa chỉ. ${askNewLink.vi}` },
      link_used: { what: 'Liên kết này đã được dùng.', todo: `Trang đã được kết nối. Nếu cần kết nối lại, ${askNewLink.vi.toLowerCase()}` },
      link_expired: { what: 'Liên kết đã hết hạn.', todo: askNewLink.vi },
      unit_retired: { what: 'Đơn vị của liên kết này không còn hoạt động (đã sắp xếp lại).', todo: askNewLink.vi },
      state_mismatch: {
        what: 'Phiên đăng nhập không khớp với liên kết (có thể là một yêu cầu giả mạo, hoặc liên kết đã được mở lại ở nơi khác).',
        todo: reopen.vi,
      },
      denied: { what: 'Bạn đã từ chối hoặc hủy đăng nhập Facebook.', todo: `${reopen.vi} Hãy đồng ý chia sẻ Trang của đơn vị.` },
      code_expired: { what: 'Mã đăng nhập của Facebook đã hết hạn.', todo: reopen.vi },
      redirect_mismatch: {
        what: 'Địa chỉ quay lại không khớp với cấu hình ứng dụng Facebook.',
        todo: 'Hãy báo cho quản trị viên hệ thống (PUBLIC_BASE_URL và Valid OAuth Redirect URIs).',
      },
      code_used: { what: 'Mã đăng nhập này đã được dùng.', todo: reopen.vi },
      code_invalid: { what: 'Facebook không gửi mã đăng nhập hợp lệ.', todo: reopen.vi },
      token_rejected: { what: 'Facebook từ chối phiên đăng nhập.', todo: reopen.vi },
      no_pages: {
        what: 'Tài khoản của bạn chưa chia sẻ Trang nào.',
        todo: `${reopen.vi} Hãy chọn Trang của đơn vị trong hộp thoại Facebook.`,
      },
      session_expired: { what: 'Phiên chọn Trang đã hết hạn.', todo: reopen.vi },
      page_not_shared: {
        what: 'Trang đã chọn không nằm trong các Trang bạn quản lý và đã chia sẻ.',
        todo: `${reopen.vi} Hãy chia sẻ đúng Trang của đơn vị.`,
      },
      page_taken: { what: 'Trang này đã được kết nối với một đơn vị khác.', todo: 'Hãy chọn Trang khác hoặc báo cho quản trị viên.' },
      graph_unavailable: { what: 'Không liên lạc được với Facebook.', todo: 'Hãy thử lại sau ít phút.' },
    },
  },
  en: {
    title: 'Connect a Facebook Page',
    openIntro: (u) => `This link connects the Facebook Page of ${u} to Lan Tỏa.`,
    loginButton: 'Log in with Facebook',
    expires: (at) => `The link works once and expires at ${at} (UTC).`,
    pickTitle: 'Choose a Page',
    pickIntro: (u) => `Choose the Facebook Page of ${u}:`,
    confirmIntro: (u) => `Connect this Page to ${u}?`,
    confirmButton: 'Confirm',
    pickButton: 'Connect the chosen Page',
    noCreateContent: '(you cannot create content on this Page yet)',
    doneTitle: 'Connected',
    done: (p, u) => `The Page “${p}” is now connected to ${u}.`,
    doneNeedsReauth:
      'Your account lacks the CREATE_CONTENT task on this Page, so posts cannot be published yet. Ask a Page admin to grant it, then open a new link.',
    failureTitle: 'The Page could not be connected',
    otherLang: 'Tiếng Việt',
    failures: {
      not_configured: { what: 'Connecting Pages is not configured.', todo: 'Tell the system administrator.' },
      unknown_link: { what: 'This link does not exist.', todo: `Check the address. ${askNewLink.en}` },
      link_used: {
        what: 'This link has already been used.',
        todo: `The Page is connected. To connect again, ${askNewLink.en.toLowerCase()}`,
      },
      link_expired: { what: 'This link has expired.', todo: askNewLink.en },
      unit_retired: { what: 'The unit of this link no longer exists (it was reorganised).', todo: askNewLink.en },
      state_mismatch: {
        what: 'The login does not match this link (a forged request, or the link was opened again elsewhere).',
        todo: reopen.en,
      },
      denied: { what: 'You declined or cancelled the Facebook login.', todo: `${reopen.en} Agree to share the unit's Page.` },
      code_expired: { what: "Facebook's login code has expired.", todo: reopen.en },
      redirect_mismatch: {
        what: "The return address does not match the Facebook app's settings.",
        todo: 'Tell the system administrator (PUBLIC_BASE_URL and Valid OAuth Redirect URIs).',
      },
      code_used: { what: 'This login code has already been used.', todo: reopen.en },
      code_invalid: { what: 'Facebook sent no valid login code.', todo: reopen.en },
      token_rejected: { what: 'Facebook refused the login.', todo: reopen.en },
      no_pages: { what: 'Your account shared no Page.', todo: `${reopen.en} Select the unit's Page in the Facebook dialog.` },
      session_expired: { what: 'The time to choose a Page has run out.', todo: reopen.en },
      page_not_shared: {
        what: 'The chosen Page is not among the Pages you manage and shared.',
        todo: `${reopen.en} Share the unit's Page.`,
      },
      page_taken: { what: 'This Page is already connected to another unit.', todo: 'Choose another Page or tell your administrator.' },
      graph_unavailable: { what: 'Facebook could not be reached.', todo: 'Try again in a few minutes.' },
    },
  },
};

export function langOf(q: unknown): Lang {
  return typeof q === 'object' && q !== null && (q as Record<string, unknown>)['lang'] === 'en' ? 'en' : 'vi';
}
