"""Name and place lists of the demo data set: common Japanese names with readings, and
invented places. Every municipality and prefecture here is fictional; no real person.

Given names carry the generation in which they were common, so that a resident born in
1940 is called 茂 or 幸子 and one born in 2015 陽翔 or 陽葵.
"""

from __future__ import annotations

FAMILY_NAMES: tuple[tuple[str, str], ...] = tuple(
    tuple(pair.split(":"))  # type: ignore[misc]
    for pair in (
        "佐藤:サトウ 鈴木:スズキ 高橋:タカハシ 田中:タナカ 伊藤:イトウ 渡辺:ワタナベ 山本:ヤマモト "
        "中村:ナカムラ 小林:コバヤシ 加藤:カトウ 吉田:ヨシダ 山田:ヤマダ 佐々木:ササキ 山口:ヤマグチ "
        "松本:マツモト 井上:イノウエ 木村:キムラ 林:ハヤシ 斎藤:サイトウ 清水:シミズ 山崎:ヤマザキ "
        "森:モリ 池田:イケダ 橋本:ハシモト 阿部:アベ 石川:イシカワ 山下:ヤマシタ 中島:ナカジマ "
        "石井:イシイ 小川:オガワ 前田:マエダ 岡田:オカダ 長谷川:ハセガワ 藤田:フジタ 後藤:ゴトウ "
        "近藤:コンドウ 村上:ムラカミ 遠藤:エンドウ 青木:アオキ 坂本:サカモト 福田:フクダ 太田:オオタ "
        "西村:ニシムラ 藤井:フジイ 金子:カネコ 岡本:オカモト 藤原:フジワラ 中野:ナカノ 三浦:ミウラ "
        "原田:ハラダ 中川:ナカガワ 松田:マツダ 竹内:タケウチ 小野:オノ 田村:タムラ 中山:ナカヤマ "
        "和田:ワダ 石田:イシダ 森田:モリタ 上田:ウエダ 原:ハラ 内田:ウチダ 柴田:シバタ 酒井:サカイ "
        "宮崎:ミヤザキ 横山:ヨコヤマ 高木:タカギ 安藤:アンドウ 宮本:ミヤモト 大野:オオノ 小島:コジマ "
        "工藤:クドウ 高田:タカダ 谷口:タニグチ 今井:イマイ 丸山:マルヤマ 増田:マスダ 杉山:スギヤマ "
        "村田:ムラタ 大塚:オオツカ 小山:コヤマ 平野:ヒラノ 菅原:スガワラ 千葉:チバ 久保:クボ "
        "松井:マツイ 岩崎:イワサキ 桜井:サクライ 野口:ノグチ 髙橋:タカハシ 斉藤:サイトウ"
    ).split()
)

_GIVEN = {
    ("M", "old"): "茂:シゲル 清:キヨシ 勇:イサム 実:ミノル 進:ススム 正:タダシ 博:ヒロシ 武:タケシ "
    "三郎:サブロウ 一郎:イチロウ 昭:アキラ 和夫:カズオ 勝:マサル 弘:ヒロシ 義男:ヨシオ 正雄:マサオ",
    ("M", "mid"): "誠:マコト 健一:ケンイチ 大輔:ダイスケ 拓也:タクヤ 直樹:ナオキ 隆:タカシ 聡:サトシ "
    "剛:ツヨシ 学:マナブ 哲也:テツヤ 達也:タツヤ 和也:カズヤ 浩二:コウジ 健二:ケンジ 秀樹:ヒデキ 修:オサム",
    ("M", "young"): "蓮:レン 陽翔:ハルト 湊:ミナト 蒼:アオイ 悠真:ユウマ 大翔:ヒロト 颯太:ソウタ "
    "樹:イツキ 悠人:ユウト 陸:リク 翔太:ショウタ 健太:ケンタ 海斗:カイト 雄太:ユウタ 大和:ヤマト 律:リツ",
    ("F", "old"): "幸子:サチコ 和子:カズコ 節子:セツコ 洋子:ヨウコ 恵子:ケイコ 京子:キョウコ "
    "久美子:クミコ 文子:フミコ 美代子:ミヨコ 弘子:ヒロコ 千代:チヨ 静子:シズコ 光子:ミツコ 照子:テルコ",
    ("F", "mid"): "裕子:ユウコ 直美:ナオミ 由美子:ユミコ 智子:トモコ 真由美:マユミ 恵:メグミ 愛:アイ "
    "美穂:ミホ 香織:カオリ 陽子:ヨウコ 純子:ジュンコ 明美:アケミ 麻衣:マイ 彩:アヤ 奈々:ナナ",
    ("F", "young"): "陽葵:ヒマリ 凛:リン 結愛:ユア 葵:アオイ 結菜:ユイナ 美咲:ミサキ さくら:サクラ "
    "芽依:メイ 紬:ツムギ 澪:ミオ 莉子:リコ 杏:アン 花:ハナ 楓:カエデ 心春:コハル 詩:ウタ",
}

GIVEN_NAMES: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    key: tuple((p.split(":")[0], p.split(":")[1]) for p in text.split())
    for key, text in _GIVEN.items()
}


def generation(birth_year: int) -> str:
    if birth_year < 1960:
        return "old"
    if birth_year < 1995:
        return "mid"
    return "young"


#: Districts of a city, written with 丁目 (chome) addresses.
CITY_DISTRICTS = (
    "本町 栄町 旭町 緑町 若葉 中央 東町 西町 南町 北町 幸町 桜町 松原 青葉 泉 柳町 宮前 "
    "新町 港町 春日 大和 富士見 川端 日吉 高砂 朝日 錦町 千歳 平和町 末広"
).split()

#: Large village sections (大字) of a town or village, written with 番地 addresses.
RURAL_SECTIONS = (
    "上原 下原 中原 川口 山田 大平 小野 宮田 高原 石原 岩本 清水 滝沢 長峰 深沢 細田 "
    "平沢 小谷 大谷 新田 本郷 堀越 谷口 森下"
).split()

#: Invented places elsewhere, for previous addresses (前住所) and domiciles (本籍).
ELSEWHERE = (
    "西雲県港浜市", "南原県青島市", "北湊県白川町", "東雲県中央市", "西雲県松ヶ丘市",
    "南原県若宮町", "北湊県大崎市", "常盤県緑川市", "常盤県旭野町", "朝霧県浜風市",
)

KANJI_DIGITS = "〇一二三四五六七八九"


def kanji_number(n: int) -> str:
    """1..99 in kanji as addresses write chome: 一, 十二, 二十."""
    if n < 10:
        return KANJI_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else KANJI_DIGITS[tens]) + "十" + ("" if ones == 0 else KANJI_DIGITS[ones])
