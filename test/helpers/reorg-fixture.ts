/** The reorganisation tests' hand-made pair (worked by hand in test/unit/reorg-oracle.test.ts). */

// A hand-made pair. Old tree (10 units + root):
//   01 Tỉnh An            ─ 001 Huyện Một ─ 00001, 00002, 00003, 00004, 00005
//                         ─ 00009 Xã Chín (directly under the province)
//   02 Tỉnh Bình          ─ 00008 Xã Tám
// New tree (9 units + root): no districts.
export const OLD = `code,parent_code,level,type,name
01,,1,Tỉnh,Tỉnh An
02,,1,Tỉnh,Tỉnh Bình
001,01,2,Huyện,Huyện Một
00001,001,3,Xã,Xã Một
00002,001,3,Xã,Xã Hai
00003,001,3,Xã,Xã Ba
00004,001,3,Xã,Xã Bốn
00005,001,3,Xã,Xã Năm
00009,01,2,Xã,Xã Chín
00008,02,2,Xã,Xã Tám
`;
export const NEW = `code,parent_code,level,type,name
01,,1,Tỉnh,Tỉnh An
02,,1,Tỉnh,Tỉnh Bình Mới
00001,01,2,Xã,Xã Một Mới
00004,01,2,Xã,Xã Bốn
00020,01,2,Xã,Xã Hai Mươi
00002,02,2,Xã,Xã Hai Mới
00021,02,2,Xã,Xã Hai Mốt
00009,01,2,Xã,Xã Chín
00008,02,2,Xã,Xã Tám
`;
// Explicit rows. Implicit `X,X,full`: 01, 02, 00009, 00008 (no row, code in the new tree).
// 001 has no row, is not in the new tree and has children: abolished.
export const MERGES = `new_code,old_code,kind
00001,00001,full
00001,00002,full
00001,00003,full
00004,00004,partial
00020,00004,partial
00002,00005,partial
00021,00005,partial
`;
// One Page per old unit and root, except 00005 which has two.
export const pagesOf = (code: string) => (code === '00005' ? ['p-00005a', 'p-00005b'] : [`p-${code}`]);
