"""The words and phrases the story reader knows: honorifics, names, agencies, contexts, times, settings.

Phrases are written with diacritics (story_text.vi makes each word match when typed without).
Contexts are matched on the lower-case text just before (…$) or just after (^…) a mention.
"""

from __future__ import annotations

import re

from intake.dialog.story_text import Phrases, vi, words_alternation
from intake.places.text import fold


def phrases(alternation: str) -> Phrases:
    """'a b|c' as phrases to look up at a word of the story."""
    return Phrases(alternation)


def folded(words: str) -> frozenset[str]:
    """Space-separated words as a set of folded words."""
    return frozenset(fold(w) for w in words.split())


# -- people -------------------------------------------------------------------------------------------

HONORIFICS = phrases("ông|bà|anh|chị|chú|cô|bác|thầy|cậu|dì|đồng chí|cô giáo|thầy giáo|bác sĩ")
# Before an honorific: many people, no one in particular ('mấy ông quan tham').
PLURAL = phrases("mấy|các|những|nhiều|mọi|bọn|lũ")
# Before a name these mark someone the resident speaks for: a child, a grandchild.
YOUNG = phrases("cháu|em|con|bé")
SURNAMES = folded(
    "nguyễn trần lê phạm hoàng huỳnh phan vũ võ đặng bùi đỗ hồ ngô dương lý lưu trương đinh đào mai lâm "
    "quách tạ hà kiều lương cao tô châu thái la lò lữ vi bế nông hứa triệu thạch đoàn chu văn tống trịnh "
    "mạc khổng lục quan giang thân tăng diệp từ kha tiêu âu doãn cù đàm khúc ninh phùng tôn vương lại "
    "bạch hầu lã ma mã sầm"
)
MIDDLE_NAMES = folded(
    "văn thị hữu đức đình quốc minh ngọc quang xuân công thanh tấn hồng kim bảo gia trung anh tuấn thành "
    "mạnh duy khắc trọng phú hải thu bích mỹ như diệu"
)
# Function words and common verbs of reports, folded: they end a name or a place name typed in lower
# case ('ong le van tam da doi tien', 'xa ninh hiep thu tien').
FUNCTION_WORDS = folded(
    "là ở tại đã đang bị được thường hay lại còn cũng sẽ vừa mới đòi nhận bắt thu làm có không ko k giao "
    "ăn lấy ép ký đánh chửi và với cho của này đó đấy kia thì mà nhưng nên vì để khi sau trước từ đến "
    "trong ngoài tôi em mình ông bà anh chị hiện rất quá một hai ba nhiều thuộc đi lên về gây cấp tự "
    "xin nói bảo dọa yêu cầu ra vào mấy các những"
)
# Words before a capitalised name that make it a street's, a school's, a temple's... ('đường Lê Lợi').
NAMED_AFTER = phrases("đường|phố|ngõ|hẻm|trường|chùa|đền|cầu|chợ")
FAMOUS = frozenset({"ho chi minh", "ho"})  # 'Bác Hồ', 'Chủ tịch Hồ Chí Minh' are quoted, never accused

# -- places and agencies --------------------------------------------------------------------------

LEVEL_WORDS = phrases("xã|phường|thị trấn|đặc khu|huyện|quận|thị xã|thành phố|tỉnh|tp")
HAMLET_WORDS = phrases("thôn|ấp|bản|buôn|làng|sóc|xóm|tổ|tổ dân phố|khu phố|khóm|khu|tdp|kp")
# Agency heads and what must follow them: a unit ('UBND xã Tân Phú'), a field ('phòng tài chính'),
# nothing ('trạm y tế'), a school level or name ('trường THCS Lê Lợi'), a hamlet ('chi bộ thôn 5').
ORG_HEADS = phrases(
    "ủy ban nhân dân|uỷ ban nhân dân|ủy ban|uỷ ban|ubnd|ub|hội đồng nhân dân|hđnd|hdnd|đảng ủy|đảng uỷ|đu|"
    "mặt trận tổ quốc|mttq|ủy ban mặt trận tổ quốc"
)
UNIT_HEADS = phrases(
    "công an|ca|kiểm lâm|ban chỉ huy quân sự|đồn công an|đồn biên phòng|tòa án nhân dân|tòa án|"
    "viện kiểm sát nhân dân|viện kiểm sát|thanh tra|trung tâm y tế|kho bạc nhà nước|kho bạc|"
    "hội nông dân|hội liên hiệp phụ nữ|hội phụ nữ|hội cựu chiến binh|đoàn thanh niên|mặt trận"
)
FIELD_HEADS = phrases("phòng|sở|chi cục|cục|ban|khoa|trung tâm|đội|hạt")
STANDALONE_HEADS = phrases(
    "trạm y tế|bộ phận một cửa|bộ phận tiếp nhận và trả kết quả|văn phòng đăng ký đất đai|"
    "chi nhánh văn phòng đăng ký đất đai|hạt kiểm lâm|ban quản lý dự án|bệnh viện|hợp tác xã|"
    "ngân hàng chính sách xã hội|ban quản lý chợ"
)
SCHOOL = phrases("trường")
SCHOOL_LEVELS = phrases(
    "mầm non|mẫu giáo|tiểu học|trung học cơ sở|trung học phổ thông|thcs|thpt|th|ptdtnt|ptdtbt|cao đẳng|"
    "đại học|trung cấp|liên cấp|phổ thông|dân tộc nội trú|dân tộc bán trú"
)
CELL = phrases("chi bộ")
# What follows phòng, sở, chi cục...: 'phòng tài nguyên và môi trường', 'chi cục thuế'.
FIELDS = phrases(
    "tài nguyên|môi trường|tài chính|kế hoạch|giáo dục|đào tạo|lao động|thương binh|xã hội|nội vụ|tư pháp|"
    "y tế|kinh tế|hạ tầng|đô thị|quản lý|trật tự|nông nghiệp|phát triển|nông thôn|xây dựng|giao thông|"
    "vận tải|công thương|văn hóa|văn hoá|thể thao|du lịch|thông tin|truyền thông|khoa học|công nghệ|thuế|"
    "kiểm lâm|hải quan|thống kê|dân tộc|tôn giáo|thanh tra|tiếp dân|một cửa|địa chính|đất đai|thị trường|"
    "chợ|dự án|đầu tư|bảo hiểm|tổ chức|tuyên giáo|dân vận|kiểm tra|đăng ký|hành chính công|hành chính|"
    "hộ tịch|kế toán|văn phòng|tnmt|lđtbxh|tckh|qlđt|ktht|vhxh|gd|đt|tn|mt"
)
# Words that are a rank, not a post: 'phó trưởng' of 'phó trưởng phòng Tài chính'.
RANKS = frozenset({"truong", "pho"})
FIELD_JOINERS = phrases("và|&|-")
# Agencies whose head words a position may share: the agency then holds them ('chủ tịch UBND xã X').
TRIMMING_KINDS = frozenset({"org", "school"})

# -- contexts -------------------------------------------------------------------------------------

I = words_alternation("tôi|em|e|mình|mk|tui|tớ|chúng tôi|bọn em|con")
KIN = words_alternation(
    "bố|mẹ|cha|má|ba|tía|ông nội|bà nội|ông ngoại|bà ngoại|ông|bà|con|con trai|con gái|vợ|chồng|anh trai|"
    "chị gái|em trai|em gái|anh|chị|em|cháu|cô|chú|bác|dì|cậu|thím|mợ|cụ|người nhà"
)
HON = words_alternation("ông|bà|anh|chị|cô|chú|bác|thầy|cháu|em|cụ|a|c")

# The resident speaking of themselves: 'tôi là', 'tôi tên là', 'người phản ánh:'.
SELF_BEFORE = vi(
    rf"(?:(?<!\w){I} (?:tên là|tên|là|họ tên là|cũng là|hiện là|đang là|làm|đang làm|hiện đang là)"
    rf"|(?<!\w)tên (?:của )?{I} là"
    r"|(?<!\w)(?:người (?:phản ánh|viết|gửi|tố cáo|làm đơn|kiến nghị)|họ tên|ký tên))"
    rf"\s*:?\s*(?:{HON})?\s*$"
)
# Someone the resident speaks for: 'bố tôi là ông', 'con tôi là cháu', 'người bị đánh là ông'.
KIN_BEFORE = vi(
    rf"(?:(?<!\w){KIN} (?:của )?{I}(?: (?:là|tên là|tên))?"
    r"|(?<!\w)(?:người bị (?:hại|đánh|thiệt hại|chửi|xúc phạm)|nạn nhân)(?: là)?"
    r"|(?<!\w)(?:cháu|bé))"
    rf"\s*(?:{HON})?\s*$"
)
# Someone the complaint went to, or who was with the resident: 'gửi đơn cho ông', 'tôi và anh'.
ADDRESSEE_BEFORE = vi(
    r"(?:(?<!\w)(?:gửi (?:đơn )?(?:cho|lên|đến|tới)|báo(?: cáo)? (?:với|cho|lên)|phản ánh (?:với|lên)|"
    r"trình báo(?: (?:với|lên))?|kiến nghị (?:với|lên)|khiếu nại (?:với|lên)|nhờ)"
    rf"|(?<!\w){I} (?:và|cùng|cùng với|với))"
    rf"\s*(?:{HON})?\s*$"
)
# A relative of the accused, named after the accused's post: 'vợ ông chủ tịch xã là bà...'.
RELATIVE_BEFORE = vi(
    r"(?<!\w)(?:vợ|chồng|con|con trai|con gái|em ruột|anh ruột|chị ruột|bố|mẹ|cha|cháu|người nhà|người thân)"
    rf" (?:của )?(?:{HON})?\s*$"
)
RELATIVE_AFTER = vi(rf"^\s*,?\s*(?:là )?{KIN} (?:ruột )?(?:của|{I})(?!\w)")
AGE_AFTER = vi(r"^\s*,?\s*(?:năm nay )?\d{1,3} tuổi")
# A name given for someone already spoken of: 'anh ấy tên Hưng', 'Thầy tên là...', 'người đứng đầu là ông'.
ANAPHORA_BEFORE = vi(
    rf"(?:(?<!\w)(?:{HON}|người|cán bộ|hắn|ổng|bả)(?: (?:ấy|ta|đó|này|kia|ý))? (?:tên|có tên)(?: là)?"
    r"|(?<!\w)người (?:đứng đầu|phụ trách|chịu trách nhiệm)(?: là)?)"
    rf"\s*(?:{HON})?\s*$"
)
# Between a name and its post: 'Ông A là cán bộ...', 'Ông A, cán bộ...', 'Ông A (cán bộ...'.
NAME_THEN_POST = vi(
    r"^\s*(?:[,(\-–:]\s*)?(?:(?:hiện |đang |cũng |nguyên |vốn )?(?:là|làm|giữ chức) |(?:nguyên|cựu) )?$"
)
# Between two posts of one person: 'nguyên chủ tịch xã, nay là bí thư...', 'đảng viên, giáo viên...'.
POST_THEN_POST = vi(r"^\s*[,;]?\s*(?:(?:nay|hiện|hiện nay|đồng thời|kiêm|và|cũng) )*(?:là |kiêm )?$")
# A post no longer held: 'nguyên chủ tịch xã', 'cựu trưởng thôn', 'từng là'.
FORMER_BEFORE = vi(r"(?<!\w)(?:nguyên|cựu|từng là|từng làm|trước đây là|trước là|nguyên là)\s*$")
# Someone things were done to: 'Anh A, hàng xóm nhà tôi, bị công an...' (followed by who did them).
VICTIM_AFTER = vi(r"^\s*(?:,[^,.;!?]{1,40},)?\s*(?:đã |cũng |vừa |từng )?bị\s*$")
# Between a post and its holder: 'chủ tịch xã là ông A', 'trưởng thôn A', 'hiệu trưởng của trường là bà A'.
POST_THEN_NAME = vi(
    r"^\s*(?:[,(\-–:]\s*)?(?:của (?:\w+ ){1,2})?(?:(?:hiện |chính )?là )?"
    rf"(?:{HON}|tên là|tên|có tên là|ông ấy tên là)?\s*$"
)
# Between an accused's name and their agency: 'bà A ở bộ phận một cửa', 'anh B làm ở chi cục thuế'.
NAME_THEN_AGENCY = vi(r"^\s*,?\s*(?:(?:làm|làm việc|công tác) )?(?:ở|tại|thuộc)\s*$")
# A post marked as a person's ('ông chủ tịch', 'thầy hiệu trưởng') or as the one acting ('bị chủ tịch...').
PERSON_POST_BEFORE = vi(rf"(?<!\w)(?:{HON}|bị|do)\s*$")
# The resident's home: 'tôi ở', 'nhà tôi ở', 'tôi sống tại', 'địa chỉ:'.
HOME_BEFORE = vi(
    rf"(?:(?<!\w)(?:{I}|nhà {I}|gia đình {I})(?: (?:hiện|đang|vẫn|hiện đang|hiện nay))? "
    r"(?:ở|sống|sống ở|sống tại|sinh sống (?:tại|ở)|cư trú (?:tại|ở)|thường trú (?:tại|ở)|"
    r"tạm trú (?:tại|ở)|trú (?:tại|ở)|ở tại|là người dân|là người|là dân)"
    r"|(?<!\w)(?:địa chỉ(?: (?:của tôi|nhà|liên hệ|thường trú))?\s*:?|hiện (?:ở|sống tại)))"
    r"\s*(?:ở|tại)?\s*$"
)
SELF_INTRO = vi(rf"^\s*(?:{I}) (?:tên|là)(?!\w)")
HOME_AFTER_INTRO = vi(r"(?<!\w)(?:nhà )?(?:ở|tại|sống (?:ở|tại))\s*$")
# The accused lives where the resident does: 'xã tôi', 'hàng xóm', 'thôn em'.
SAME_PLACE = vi(
    rf"(?<!\w)(?:(?:xã|phường|thôn|ấp|xóm|tổ|khu phố|bản|khóm|địa phương|khu) (?:{I}|nhà {I})|hàng xóm|"
    rf"nơi {I} ở|chỗ {I})(?!\w)"
)

# -- setting --------------------------------------------------------------------------------------

WORKPLACE_CUES = vi(
    r"(?<!\w)(?:(?:ở|tại|trong|lên|đến|tới|ra) (?:cơ quan|trụ sở|nơi làm việc|phòng làm việc|"
    r"bộ phận một cửa|ủy ban|uỷ ban|ubnd|ub)"
    r"|(?:trong|ngay trong) giờ (?:làm việc|hành chính)|(?:khi|lúc) (?:đang )?làm việc (?:tại|ở)"
    r"|(?:trong|ngay trong) (?:lúc|khi) (?:đang )?(?:làm việc|làm vc|làm nhiệm vụ)|(?:ngay )?trên lớp)(?!\w)"
)
# A preposition that puts the events at an agency: 'tại Văn phòng đăng ký đất đai', 'lên UBND xã'.
AT_AGENCY_BEFORE = vi(r"(?<!\w)(?:tại|lên|đến|tới)\s*$")
# ...unless a letter went there ('gửi đơn lên UBND xã') or it says where someone works ('vào làm ở UBND xã').
JOB_BEFORE = vi(r"(?<!\w)(?:làm|làm việc|công tác|vào làm|đi làm)\s*$")
SENT_BEFORE = vi(r"(?<!\w)(?:gửi|đơn|chuyển|báo cáo|phản ánh|kiến nghị|khiếu nại)(?: \w+)?\s*$")
RESIDENCE_CUES = vi(
    r"(?<!\w)(?:(?:tại|ở|trong) nhà (?:riêng|mình|ổng|bả|hắn|(?:ông|bà|anh|chị|cô|chú)(?: (?:ấy|ta|này))?)"
    r"|(?:tại|ở) nhà(?=\s*[,.;!?]| (?:suốt|cả|thường|mỗi|hàng|ban|vào))"
    r"|nơi (?:cư trú|ở|sinh sống)|hàng xóm|khu dân cư"
    r"|(?:ở|tại|trong) (?:xóm|thôn|ấp|khu phố|tổ dân phố|bản|làng|khóm) (?:tôi|em|e|mình|mk|này))(?!\w)"
)
# Work done for residents: where this is spoken of, a house is not what the report is about.
OFFICE_WORK = vi(
    r"(?<!\w)(?:hồ sơ|thủ tục|giấy tờ|sổ đỏ|chứng thực|cấp phép|giấy phép|ký|duyệt|xác nhận|"
    r"học sinh|học thêm|phụ huynh|trợ cấp|hỗ trợ|ngân sách|dự án|hối lộ|bồi dưỡng|biên bản|phạt)(?!\w)"
)

# -- time -----------------------------------------------------------------------------------------

_REL = r"(?:vừa rồi|vừa qua|trước|này|rồi|qua|trc)"
_N = r"(?:\d{1,2}|vài|mấy|một|hai|ba|bốn|năm|sáu)"
_UNIT = r"(?:ngày|hôm|tuần|tháng|năm)"
_DAYPART = r"(?:sáng|trưa|chiều|tối|đêm|khuya)"
_WEEKDAY = r"(?:thứ (?:hai|ba|tư|năm|sáu|bảy|[2-7])|chủ nhật)"
_YEAR = r"(?:19|20)\d{2}"
_DATE = r"\d{1,2}\s*[/.\-]\s*\d{1,2}"
_CORE = (
    rf"(?:(?:{_DAYPART} )?(?:ngày|hôm|mùng|mồng)\s*)?{_DATE}\s*[/.\-]\s*(?:{_YEAR}|\d{{2}})"
    rf"|(?:{_DAYPART} )?(?:ngày|hôm|mùng|mồng) {_DATE}"
    rf"|{_DAYPART} {_DATE}"
    rf"|(?:{_DAYPART} )?(?:ngày|mùng|mồng) \d{{1,2}} tháng \d{{1,2}}(?: năm {_YEAR})?"
    r"|(?:đêm|ngày|mùng|mồng) \d{1,2} tết"
    rf"|tháng (?:\d{{1,2}}|giêng|chạp)(?:\s*[/.\-]\s*{_YEAR}| năm (?:{_YEAR}|nay|ngoái|trước|rồi))?(?: {_REL})?"
    rf"|năm học (?:{_YEAR}\s*-\s*{_YEAR}|này|trước|vừa rồi|vừa qua)"
    r"|học kỳ (?:này|trước|vừa rồi|vừa qua|\d)"
    rf"|năm (?:{_YEAR}|nay|ngoái|trước|rồi|vừa rồi|vừa qua)"
    r"|(?:hôm|bữa) (?:qua|kia|nay|trước|hổm)|hum (?:wa|qua)"
    rf"|{_DAYPART} (?:nay|qua|hôm qua|hôm trước)"
    rf"|(?:(?:hôm|{_DAYPART}|vào|ngày) ){_WEEKDAY}(?: (?:tuần (?:trước|này|rồi|trc)|{_REL}))?"
    rf"|{_WEEKDAY} (?:tuần (?:trước|này|rồi|trc)|vừa rồi|vừa qua)"
    rf"|tuần {_REL}|tháng {_REL}"
    rf"|{_N} {_UNIT} (?:trước|nay|qua)|(?:cách đây|khoảng) {_N} {_UNIT}(?: (?:trước|nay|rồi))?"
    r"|mấy (?:hôm|ngày|tuần|tháng|năm) (?:trước|nay)|nhiều năm (?:nay|qua)|lâu nay"
    rf"|(?:dịp )?tết(?: nguyên đán)?(?: (?:{_YEAR}|vừa rồi|vừa qua|năm nay|năm ngoái))+"
    r"|dịp tết"
)
_LEAD_KEPT = r"(?:từ|khoảng|đầu|cuối|giữa|suốt|từ đầu|từ cuối|từ giữa|khoảng giữa|khoảng đầu|khoảng cuối)"
_LEAD_DROPPED = r"(?:vào|hồi|lúc|trong|đến|tới|tính đến)"
_TAIL = rf"(?:\s*(?:đến|tới|-|–)\s*(?:nay|bây giờ|giờ|h|hiện nay|{_YEAR}|(?:{_CORE})))?"
_BARE_YEAR = rf"(?:từ|đến|cuối|đầu) {_YEAR}"  # 'từ 2024'
TIME = vi(
    rf"(?<![\w/.])(?:{_LEAD_DROPPED} )?(?P<value>(?:{_LEAD_KEPT} )?(?:{_CORE}|{_BARE_YEAR}){_TAIL})(?![\w/])"
)
NOT_TIME_AFTER = vi(r"^\s*,?\s*\d{1,3} tuổi")
# 'sinh năm 1975' is a birth year ('học sinh' is a pupil, not a birth).
NOT_TIME_BEFORE = re.compile(r"(?<!\w)(?<!học )(?<!hoc )(?:sinh|sn|năm sinh|nam sinh|ngày sinh|ngay sinh)\s*$")
# Teen spellings inside a time, written out for the draft.
TIME_WORDS = {"hum": "hôm", "wa": "qua", "trc": "trước", "h": "giờ"}
